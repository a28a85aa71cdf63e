"""neurosim/targets/sat"""
