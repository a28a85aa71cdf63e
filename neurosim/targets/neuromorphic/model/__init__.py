"""neurosim/targets/neuromorphic/model"""
