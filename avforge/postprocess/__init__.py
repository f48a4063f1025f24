"""avforge.postprocess"""
