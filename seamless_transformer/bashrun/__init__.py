"""bashrun"""
