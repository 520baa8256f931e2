"""Use cases of an election, with no HTTP: each function reads and writes the files a role
keeps (in the same formats as ``belenios-tool``) or the public archive, and raises the typed
errors of :mod:`viche.errors`. The command line (:mod:`viche.cli.election`) and the web
application are thin layers over these functions."""
