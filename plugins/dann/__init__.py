"""DANN (Ganin & Lempitsky, 2015): domain-adversarial training with a gradient reversal layer."""
