"""The commands of `python -m bot …`, one module per subcommand: each takes the parsed arguments and returns
the exit code (`bot.__main__` parses the command line and dispatches).

    ask      the answer in the terminal, with --csv / --chart files
    serve    `serve` (HTTP) and `socket` (Socket Mode): the Slack app as a long-running process,
             its preflight checks and background housekeeping
    poll     `poll --once`: the callouts' backstop
    audit    `audit export|verify|checkpoint|mirror`
    sandbox  the embedded Zuora emulator as an HTTP server
    demo     the local page standing in for Slack
    migrate  bring the database schema up to date
    signals  SIGTERM/SIGINT handling shared by the long-running commands

Errors a command does not handle itself (`ConfigError`) reach `bot.__main__.main`, which prints one line.
"""
