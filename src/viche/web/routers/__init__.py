"""One router per resource: elections (the public record), ballots (casting)."""
