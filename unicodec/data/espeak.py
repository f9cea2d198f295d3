"""A thin ctypes wrapper around the libespeak-ng bundled by ``espeakng-loader``.

It synthesises text at 22050 Hz and reports where each phoneme starts (a sample index
and the phoneme's IPA name), which gives frame-level phone alignments for free.

Each call loads a fresh copy of the library state and seeds its noise sources, so the
same arguments always give the same audio, whatever was synthesised before.

Example
-------
>>> tts = EspeakSynthesizer()
>>> out = tts.synthesize("Hello world.", voice="en-US+m3")
>>> out.sample_rate, out.audio.dtype.name
(22050, 'float32')
>>> [event.phone for event in out.events][:4]
['h', 'ə', 'l', 'ˈoʊ']
"""

import ctypes
import _ctypes
import os
import threading
from dataclasses import dataclass, field
from typing import List

import numpy as np

SAMPLE_RATE = 22050
"""Sample rate of libespeak-ng's output in Hz."""

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_PARAM_WORDGAP = 7


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    ]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class PhonemeEvent:
    """Start of one phoneme in a synthesised waveform.

    Arguments
    ---------
    sample : int
        Index of the first sample of the phoneme (at ``SAMPLE_RATE``).
    phone : str
        IPA name as libespeak-ng reports it (stress marks included; an empty name is a
        pause).

    Example
    -------
    >>> PhonemeEvent(sample=264, phone="h").sample
    264
    """

    sample: int
    phone: str


@dataclass
class Synthesis:
    """The result of one synthesis.

    Arguments
    ---------
    audio : numpy.ndarray
        Waveform ``[T]``, float32 in [-1, 1).
    sample_rate : int
        Sample rate of ``audio`` (``SAMPLE_RATE``).
    events : list of PhonemeEvent
        Phoneme starts in time order.

    Example
    -------
    >>> import numpy as np
    >>> Synthesis(np.zeros(22050, dtype="float32"), 22050).duration
    1.0
    """

    audio: np.ndarray
    sample_rate: int = SAMPLE_RATE
    events: List[PhonemeEvent] = field(default_factory=list)

    @property
    def duration(self):
        """Length of ``audio`` in seconds."""
        return len(self.audio) / self.sample_rate


class _Engine:
    """Runs libespeak-ng, one freshly loaded library per synthesis.

    libespeak-ng keeps state in static variables (pitch flutter position, gain control,
    filter memories) that carry over from one utterance to the next, so the same text
    would sound slightly different depending on what was synthesised before. Loading the
    library, synthesising and unloading it again (about 4 ms) makes every utterance a
    function of its arguments only.
    """

    _lock = threading.Lock()

    def __init__(self, library_path, data_path):
        self.library_path = library_path
        self.data_path = data_path
        self._chunks = []
        self._events = []
        # Keep a reference to the callback: ctypes frees it otherwise.
        self._callback = _SYNTH_CALLBACK(self._on_audio)
        self._libc = ctypes.CDLL(None)
        self._libc.srand.argtypes = [ctypes.c_uint]

    @classmethod
    def from_loader(cls):
        """Finds the library and its data through ``espeakng_loader``."""
        try:
            import espeakng_loader
        except ImportError as err:
            raise ImportError(
                "Speech synthesis needs espeakng-loader (pip install 'unicodec[corpus]')"
            ) from err
        return cls(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())

    def _open(self):
        lib = ctypes.CDLL(self.library_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(), options
        )
        if rate != SAMPLE_RATE:
            self._close(lib)
            raise RuntimeError(
                f"libespeak-ng failed to initialise from {self.data_path} (returned {rate})"
            )
        lib.espeak_SetSynthCallback(self._callback)
        return lib

    @staticmethod
    def _close(lib):
        lib.espeak_Terminate()
        _ctypes.dlclose(lib._handle)

    def _on_audio(self, wav, num_samples, events):
        if num_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                name = bytes(event.id.string).split(b"\0")[0]
                self._events.append(
                    PhonemeEvent(int(event.sample), name.decode("utf-8", "replace"))
                )
            index += 1
        return 0

    def synthesize(self, text, voice, params, seed):
        """Synthesises ``text``; ``params`` maps espeak parameter ids to values."""
        with self._lock:
            lib = self._open()
            try:
                status = lib.espeak_SetVoiceByName(voice.encode())
                if status != 0:
                    raise ValueError(
                        f"Unknown espeak-ng voice {voice!r} (error {status}); use a voice "
                        "file name such as 'en-US', 'fr' or 'cmn', optionally '+variant'"
                    )
                for key, value in params.items():
                    lib.espeak_SetParameter(key, int(value), 0)
                # The noise sources (breath, Klatt aspiration) draw random numbers.
                lib.espeak_ng_SetRandSeed(seed)
                self._libc.srand(seed)
                self._chunks, self._events = [], []
                data = text.encode("utf-8") + b"\0"
                status = lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8, None, None)
                if status != 0:
                    raise RuntimeError(f"espeak_Synth failed with error {status} on {text!r}")
                chunks, events = self._chunks, self._events
            finally:
                self._chunks, self._events = [], []
                self._close(lib)
        if chunks:
            audio = np.concatenate(chunks).astype(np.float32) / 32768.0
        else:
            audio = np.zeros(0, dtype=np.float32)
        events = sorted(events, key=lambda event: event.sample)
        return Synthesis(audio=audio, sample_rate=SAMPLE_RATE, events=events)


class EspeakSynthesizer:
    """Text to speech with libespeak-ng, with phoneme timings.

    The library is loaded by ``synthesize``, not by the constructor.

    Arguments
    ---------
    library_path : str, optional
        libespeak-ng shared library (default: the one bundled by ``espeakng-loader``).
    data_path : str, optional
        Its ``espeak-ng-data`` folder (default: the bundled one).

    Example
    -------
    >>> tts = EspeakSynthesizer()
    >>> low = tts.synthesize("Bonjour.", voice="fr+m3", pitch=20)
    >>> high = tts.synthesize("Bonjour.", voice="fr+m3", pitch=80)
    >>> len(low.audio) > 0 and len(high.audio) > 0
    True
    """

    def __init__(self, library_path=None, data_path=None):
        self.library_path = library_path
        self.data_path = data_path
        self._engine = None

    def _get_engine(self):
        if self._engine is None:
            library, data = self.library_path, self.data_path
            if library is None or data is None:
                default = _Engine.from_loader()
                library = library or default.library_path
                data = data or default.data_path
            self._engine = _Engine(library, data)
        return self._engine

    def synthesize(
        self,
        text,
        voice="en",
        rate=175,
        volume=100,
        pitch=50,
        pitch_range=50,
        word_gap=0,
        seed=0,
    ):
        """Synthesises one utterance.

        Arguments
        ---------
        text : str
            UTF-8 text (any script the voice's language reads, e.g. Chinese characters
            for ``cmn``).
        voice : str
            Voice file name, optionally with a variant: ``"en-US"``, ``"fr+f2"``,
            ``"cmn+klatt3"``.
        rate : int
            Speaking rate in words per minute (80 to 450).
        volume : int
            Amplitude in percent (0 to 200).
        pitch : int
            Base pitch, 0 to 99 (50 is the voice's own).
        pitch_range : int
            Pitch range, 0 (monotone) to 99 (50 is the voice's own).
        word_gap : int
            Extra pause between words in units of 10 ms.
        seed : int
            Seed of the synthesiser's noise sources: equal arguments give equal audio.

        Returns
        -------
        Synthesis
            22050 Hz float32 audio and the phoneme events.
        """
        params = {
            _PARAM_RATE: int(np.clip(rate, 80, 450)),
            _PARAM_VOLUME: int(np.clip(volume, 0, 200)),
            _PARAM_PITCH: int(np.clip(pitch, 0, 99)),
            _PARAM_RANGE: int(np.clip(pitch_range, 0, 99)),
            _PARAM_WORDGAP: int(max(0, word_gap)),
        }
        return self._get_engine().synthesize(text, voice, params, int(seed))

    @staticmethod
    def variants():
        """Names of the voice variants in the bundled data (``+m1``, ``+f2``, ...).

        Returns
        -------
        list of str
            Sorted variant names, usable after ``+`` in a voice name.

        Example
        -------
        >>> {"m1", "f2", "klatt3"} <= set(EspeakSynthesizer.variants())
        True
        """
        import espeakng_loader

        folder = os.path.join(espeakng_loader.get_data_path(), "voices", "!v")
        return sorted(os.listdir(folder))
