"""Corpus synthesis for the embedded default and audio loading helpers."""
