"""Training losses of UniCodec: reconstruction, adversarial, quantization, distillation and disentanglement."""
