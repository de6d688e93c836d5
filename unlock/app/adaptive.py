"""Templates that adapt: a confident unlock may refresh a bounded adaptive part of a profile.

A face changes with light, glasses, a beard or a new room; an enrolment from one sitting
covers only that sitting. After a *confident* unlock, the live embedding may join the
profile's adaptive part (`Profile.adaptive`), which the unlock network then compares with
alongside the enrolled core. The rules keep this from becoming a way in:

- only the most confident of the frames that agreed on the unlock (the k-of-n window),
  and only when its p against the whole profile is at least `ADAPT_P` (stricter than the
  0.5 that unlocks; with liveness on, the loop unlocks only after liveness passed);
- the face must also match the enrolled core alone at p >= `ADAPT_P`: an adaptive entry
  never vouches for another, so the profile cannot drift away from the enrolled person
  one step at a time;
- it must bring something new (cosine below `NOVELTY` to every embedding the profile
  already holds), so one sitting does not fill the adaptive part;
- at most `MAX_ADAPTIVE` entries; the oldest goes first. The core never changes;
  `faceunlock enroll NAME --reset-adaptive` clears the adaptive part.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

ADAPT_P = 0.6
NOVELTY = 0.9
MAX_ADAPTIVE = 10


def adaptation_refusal(profile, embedding: np.ndarray, p: float, scorer) -> str | None:
    """Why `embedding` (which unlocked at `p`) may not join the profile, or None."""
    if p < ADAPT_P:
        return f"unlock not confident enough (p {p:.2f} < {ADAPT_P})"
    core_p = float(scorer.probability(embedding[None], profile.embeddings)[0])
    if core_p < ADAPT_P:
        return f"does not match the enrolled core well enough (p {core_p:.2f} < {ADAPT_P})"
    if float(np.max(profile.scoring_set() @ embedding)) >= NOVELTY:
        return "nothing new: the profile already holds a face this close"
    return None


def adapt(profile, embedding: np.ndarray, p: float, scorer) -> bool:
    """Add `embedding` to the profile's adaptive part if the rules allow; True if added.

    Changes `profile` in memory only; the caller saves it (the profile stays signed).
    """
    embedding = np.asarray(embedding, np.float32)
    if adaptation_refusal(profile, embedding, p, scorer) is not None:
        return False
    rows = np.concatenate([profile.adaptive.reshape(-1, embedding.shape[0]), embedding[None]])
    profile.adaptive = rows[-MAX_ADAPTIVE:].astype(np.float32)
    log = profile.extra.setdefault("adaptive_log", [])
    log.append({"date": datetime.now(UTC).isoformat(), "p": round(float(p), 4)})
    del log[:-MAX_ADAPTIVE]
    return True


def reset(profile) -> int:
    """Clear the adaptive part; returns how many entries were removed."""
    removed = len(profile.adaptive)
    profile.adaptive = np.zeros((0, profile.embeddings.shape[1]), np.float32)
    profile.extra.pop("adaptive_log", None)
    return removed
