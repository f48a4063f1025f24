"""Lip and speech encoders on the 25 fps video grid, their portable specs, and the FeatureStore.

``build_encoder(name, **opts)`` and ``build_from_spec(spec, weights=...)`` (registry.py);
``EncoderSpec`` (spec.py); ``encode_video(path, encoders)`` (encode.py: the one way from a video
to features); ``FeatureStore(root)`` (store.py); ``extract(items, encoder, store, shard=...)``.
"""
