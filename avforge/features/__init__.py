"""avforge.features"""
