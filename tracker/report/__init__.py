"""Stage 5, report: what is unanswered, how responsive each body is, and the weekly digest."""
