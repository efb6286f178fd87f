"""What the Qwen-Image-Edit family's model folders share: the description of one member
(:class:`QwenVariant`), read by the shared loading, tiny-model and call code."""
