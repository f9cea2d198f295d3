"""UniCodec: universal speech tokens from a low-bitrate neural codec.

Speech is coded into global tokens (one set per utterance: timbre, style, emotion),
semantic tokens (50 Hz, the words) and paralinguistic tokens (25 Hz, prosody and detail),
and decoded back to a waveform.
"""

__version__ = "0.1.0"
