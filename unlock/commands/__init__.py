"""One module per `faceunlock` subcommand; each exposes `add_parser(subparsers)`."""
