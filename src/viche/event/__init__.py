"""A national election event: one Belenios election per ballot style, the voter registry,
constituencies and seats, polling stations, channels (online, station, relay) and the
signed logs that live beside the archives."""
