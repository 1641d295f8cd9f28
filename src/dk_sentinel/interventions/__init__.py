"""Acting on the scores: interventions and their audit trail, the outbox, platform delivery."""
