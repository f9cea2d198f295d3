"""Word error rate of an ASR judge's transcripts: text normalisation and word-level edit
distance."""

import importlib
import re
import unicodedata


def normalize_text(text):
    """Lower case, no punctuation (apostrophes inside words kept), single spaces.

    Example
    -------
    >>> normalize_text("Mr. Quilter's  GOSPEL, (again)!")
    "mr quilter's gospel again"
    """
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(^|\s)'+|'+(\s|$)", " ", text)
    return " ".join(text.split())

def word_errors(reference, hypothesis):
    """Word edit distance (substitutions + deletions + insertions) and reference length.

    Both texts go through :func:`normalize_text` first.

    Example
    -------
    >>> word_errors("the cat sat on the mat", "the cat sat on mat too")
    (2, 6)
    """
    ref = normalize_text(reference).split()
    hyp = normalize_text(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1], len(ref)

def word_error_rate(references, hypotheses):
    """Corpus word error rate: all word edits over all reference words.

    Arguments
    ---------
    references, hypotheses : str or list of str
        Texts, one per utterance.

    Returns
    -------
    float
        NaN when the references hold no word.

    Example
    -------
    >>> word_error_rate(["a b c d", "e f"], ["a x c d", "e f g"])
    0.3333333333333333
    """
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(
            f"{len(references)} references but {len(hypotheses)} hypotheses"
        )
    edits = words = 0
    for ref, hyp in zip(references, hypotheses):
        e, n = word_errors(ref, hyp)
        edits, words = edits + e, words + n
    return edits / words if words else float("nan")
