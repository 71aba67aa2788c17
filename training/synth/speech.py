"""Speech events from espeak-ng: several voices (female and male variants) and languages.

Voices and words are dealt into the splits by index (train 3/5, val 1/5, test 1/5), so a test set
speaks with voices and words the training set never heard.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import soundfile as sf
import soxr

from seld_live.errors import SeldError

SPLITS = ("train", "val", "test")

# espeak-ng variant files (espeak-ng --voices=variant); robotic and whispering variants left out.
FEMALE_VOICES = ("f1", "f2", "f3", "f4", "f5", "Annie", "Alicia", "Andrea", "anika", "belinda", "linda",
                 "aunty", "steph", "steph2", "steph3")
MALE_VOICES = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "Adam", "Alex", "Andy", "benjamin", "boris",
               "caleb", "david", "Denis", "ed", "edward", "Gene", "gustave", "Hugo", "john", "Lee", "Marco",
               "Mario", "max", "Michael", "norbert", "paul", "quincy", "rob", "robert", "shelby", "travis",
               "victor", "zac")

WORDS = {
    "en": "morning window kitchen garden yellow river quickly table open water letter simple number station "
          "evening coffee remember yesterday music paper summer winter travel little between answer people "
          "family picture market minute forest because almost always together country history student "
          "animal weather friendly orange sister finger listen carry happen village bottle silver honest "
          "mountain pocket careful button ticket pencil blanket doctor basket rabbit",
    "de": "morgen fenster kueche garten gelb fluss schnell tisch offen wasser brief einfach nummer bahnhof "
          "abend kaffee erinnern gestern musik papier sommer winter reise klein zwischen antwort leute "
          "familie bild markt minute wald weil fast immer zusammen land geschichte student tier wetter "
          "freundlich orange schwester finger hoeren tragen passieren dorf flasche silber ehrlich berg "
          "tasche vorsichtig knopf karte bleistift decke arzt korb hase",
    "fr-fr": "matin fenetre cuisine jardin jaune riviere vite table ouvert eau lettre simple numero gare soir "
             "cafe souvenir hier musique papier ete hiver voyage petit entre reponse gens famille image marche "
             "minute foret parce presque toujours ensemble pays histoire etudiant animal temps aimable orange "
             "soeur doigt ecouter porter arriver village bouteille argent honnete montagne poche prudent "
             "bouton billet crayon couverture docteur panier lapin",
    "es": "manana ventana cocina jardin amarillo rio rapido mesa abierto agua carta sencillo numero estacion "
          "tarde cafe recuerdo ayer musica papel verano invierno viaje pequeno entre respuesta gente familia "
          "imagen mercado minuto bosque porque casi siempre juntos pais historia estudiante animal tiempo "
          "amable naranja hermana dedo escuchar llevar pasar pueblo botella plata honesto montana bolsillo "
          "cuidado boton billete lapiz manta medico cesta conejo",
    "it": "mattina finestra cucina giardino giallo fiume veloce tavolo aperto acqua lettera semplice numero "
          "stazione sera caffe ricordo ieri musica carta estate inverno viaggio piccolo tra risposta gente "
          "famiglia immagine mercato minuto foresta perche quasi sempre insieme paese storia studente "
          "animale tempo gentile arancia sorella dito ascoltare portare succedere villaggio bottiglia "
          "argento onesto montagna tasca attento bottone biglietto matita coperta dottore cestino coniglio",
}


def split_share(items: tuple | list, split: str) -> list:
    """The items of one split: index % 5 in {0, 1, 2} train, 3 val, 4 test."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    residues = {"train": (0, 1, 2), "val": (3,), "test": (4,)}[split]
    return [x for i, x in enumerate(items) if i % 5 in residues]


def voices(gender: str, split: str) -> list[str]:
    return split_share(FEMALE_VOICES if gender == "female" else MALE_VOICES, split)


def words(language: str, split: str) -> list[str]:
    return split_share(WORDS[language].split(), split)


def espeak_path() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SeldError("espeak-ng not found: install it (Debian package espeak-ng) to render speech classes")
    return exe


def render_speech(text: str, language: str, voice: str, speed: int, pitch: int, sample_rate: int) -> np.ndarray:
    """Mono float32 speech at ``sample_rate``; espeak-ng writes 22.05 kHz WAV to stdout."""
    cmd = [espeak_path(), "-v", f"{language}+{voice}", "-s", str(int(speed)), "-p", str(int(pitch)), "--stdout", text]
    try:
        res = subprocess.run(cmd, capture_output=True, check=True, timeout=60)
    except subprocess.CalledProcessError as e:
        msg = e.stderr.decode(errors="replace").strip()
        raise SeldError(f"espeak-ng failed for voice {language}+{voice}: {msg}") from None
    except subprocess.TimeoutExpired:
        raise SeldError(f"espeak-ng timed out for voice {language}+{voice}") from None
    audio, rate = sf.read(io.BytesIO(res.stdout), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="HQ")
    return np.asarray(audio, dtype=np.float32)
