"""avforge.engine"""
