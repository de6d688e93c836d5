"""The live app: the unlock loop (`live`), its window (`window`), the per-run session
(`session`), lockout, liveness, adaptive templates and the offline demo."""
