"""avforge.data"""
