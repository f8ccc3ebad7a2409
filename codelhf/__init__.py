"""codelhf: train code LLMs with reinforcement learning from execution feedback.

Data flows one way through the package:
dataset → problems → samples → executor → verdicts → rewards or pairs → trainer → evaluation → report.
"""

__version__ = "0.1.0"
