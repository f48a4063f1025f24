"""avforge.io"""
