"""WGAN-GP (Gulrajani et al., 2017) on 64x64 images, as the seed report prints it."""
