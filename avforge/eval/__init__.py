"""avforge.eval"""
