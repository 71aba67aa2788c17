"""General MIDI names and playing ranges: what the class lists refer to.

Programs are 0-based here (GM documents number them 1..128); percussion keys are MIDI keys 35..81 of
the GM drum kit (channel 10, bank 128 in a SoundFont).
"""

from __future__ import annotations

GM_PROGRAMS = (
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano",
    "electric piano 1", "electric piano 2", "harpsichord", "clavinet",
    "celesta", "glockenspiel", "music box", "vibraphone", "marimba", "xylophone", "tubular bells", "dulcimer",
    "drawbar organ", "percussive organ", "rock organ", "church organ", "reed organ", "accordion", "harmonica",
    "tango accordion",
    "acoustic guitar nylon", "acoustic guitar steel", "electric guitar jazz", "electric guitar clean",
    "electric guitar muted", "overdriven guitar", "distortion guitar", "guitar harmonics",
    "acoustic bass", "electric bass finger", "electric bass pick", "fretless bass", "slap bass 1", "slap bass 2",
    "synth bass 1", "synth bass 2",
    "violin", "viola", "cello", "contrabass", "tremolo strings", "pizzicato strings", "orchestral harp", "timpani",
    "string ensemble 1", "string ensemble 2", "synth strings 1", "synth strings 2", "choir aahs", "voice oohs",
    "synth voice", "orchestra hit",
    "trumpet", "trombone", "tuba", "muted trumpet", "french horn", "brass section", "synth brass 1", "synth brass 2",
    "soprano sax", "alto sax", "tenor sax", "baritone sax", "oboe", "english horn", "bassoon", "clarinet",
    "piccolo", "flute", "recorder", "pan flute", "blown bottle", "shakuhachi", "whistle", "ocarina",
    "lead square", "lead sawtooth", "lead calliope", "lead chiff", "lead charang", "lead voice", "lead fifths",
    "lead bass and lead",
    "pad new age", "pad warm", "pad polysynth", "pad choir", "pad bowed", "pad metallic", "pad halo", "pad sweep",
    "fx rain", "fx soundtrack", "fx crystal", "fx atmosphere", "fx brightness", "fx goblins", "fx echoes",
    "fx sci-fi",
    "sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipe", "fiddle", "shanai",
    "tinkle bell", "agogo", "steel drums", "woodblock", "taiko drum", "melodic tom", "synth drum", "reverse cymbal",
    "guitar fret noise", "breath noise", "seashore", "bird tweet", "telephone ring", "helicopter", "applause",
    "gunshot",
)
assert len(GM_PROGRAMS) == 128

GM_DRUMS = {
    35: "acoustic bass drum", 36: "bass drum", 37: "side stick", 38: "acoustic snare", 39: "hand clap",
    40: "electric snare", 41: "low floor tom", 42: "closed hi-hat", 43: "high floor tom", 44: "pedal hi-hat",
    45: "low tom", 46: "open hi-hat", 47: "low-mid tom", 48: "hi-mid tom", 49: "crash cymbal 1", 50: "high tom",
    51: "ride cymbal 1", 52: "chinese cymbal", 53: "ride bell", 54: "tambourine", 55: "splash cymbal",
    56: "cowbell", 57: "crash cymbal 2", 58: "vibraslap", 59: "ride cymbal 2", 60: "hi bongo", 61: "low bongo",
    62: "mute hi conga", 63: "open hi conga", 64: "low conga", 65: "high timbale", 66: "low timbale",
    67: "high agogo", 68: "low agogo", 69: "cabasa", 70: "maracas", 71: "short whistle", 72: "long whistle",
    73: "short guiro", 74: "long guiro", 75: "claves", 76: "hi wood block", 77: "low wood block", 78: "mute cuica",
    79: "open cuica", 80: "mute triangle", 81: "open triangle",
}
assert sorted(GM_DRUMS) == list(range(35, 82))

# Default key range and playing pattern per program (inclusive keys). Sustained instruments play
# legato phrases, plucked/struck ones shorter notes, sound effects hold one note for the whole event.
_FAMILY = [
    # (first program, last program, low key, high key, pattern)
    (0, 7, 36, 96, "phrase"),  # pianos
    (8, 15, 60, 96, "phrase"),  # chromatic percussion
    (16, 23, 36, 84, "legato"),  # organs, accordion, harmonica
    (24, 31, 40, 84, "phrase"),  # guitars
    (32, 39, 28, 60, "phrase"),  # basses
    (40, 40, 55, 96, "legato"),  # violin
    (41, 41, 48, 84, "legato"),  # viola
    (42, 42, 36, 72, "legato"),  # cello
    (43, 43, 28, 55, "legato"),  # contrabass
    (44, 44, 40, 84, "legato"),  # tremolo strings
    (45, 46, 36, 84, "phrase"),  # pizzicato, harp
    (47, 47, 36, 55, "hits"),  # timpani
    (48, 54, 40, 84, "legato"),  # ensembles, choirs
    (55, 55, 40, 72, "hits"),  # orchestra hit
    (56, 63, 40, 80, "legato"),  # brass
    (64, 71, 48, 84, "legato"),  # reeds
    (72, 79, 60, 96, "legato"),  # pipes
    (80, 87, 48, 84, "legato"),  # synth leads
    (88, 103, 36, 84, "legato"),  # synth pads and effects
    (104, 111, 48, 84, "phrase"),  # ethnic
    (112, 119, 48, 84, "hits"),  # percussive
    (120, 120, 48, 72, "hits"),  # guitar fret noise
    (121, 126, 48, 72, "sustain"),  # breath, seashore, bird, telephone, helicopter, applause
    (127, 127, 48, 72, "hits"),  # gunshot
]


# Programs whose FluidR3 samples fall silent inside their family's range (found by rendering every key).
_HIGH_KEY = {40: 93, 58: 72, 67: 72}  # violin, tuba, baritone sax


def program_defaults(program: int) -> tuple[int, int, str]:
    """(low key, high key, pattern) for a GM program."""
    for first, last, lo, hi, pattern in _FAMILY:
        if first <= program <= last:
            return lo, min(hi, _HIGH_KEY.get(program, hi)), pattern
    raise ValueError(f"GM program {program} outside 0..127")
