"""Reading the scores: one player's assessment and the queue, explanations, reports, exports."""
