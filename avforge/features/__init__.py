"""Lip and speech encoders on the 25 fps video grid, and the resumable FeatureStore.

``build_encoder(name, **opts)`` (registry.py): "logmel", "hf", "lip-light", "lip-resnet".
``FeatureStore(root)`` (store.py); ``extract(items, encoder, store, shard=...)`` (extract.py).
"""
