"""The open flow and what explains it: a park's context, the decision, the preflight,
one attempt, the explainer, readiness, and the service behind every hook."""
