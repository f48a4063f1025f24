"""avforge.models"""
