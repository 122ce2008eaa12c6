"""Class-conditional DDPM with classifier-free guidance (the seed report's ContextUnet), DDPM and DDIM samplers."""
