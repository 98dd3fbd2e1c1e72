"""The cockpit: a Telegram Mini App served by the bot's own process.

`cockpit.auth` checks Telegram's signed launch data (initData) on every API request,
`cockpit.views` builds what each role may see (the director's Today board, a staff member's
own jobs, logs and score, a teacher's own reports) from the same storage queries the chat's
commands use, `cockpit.web` is the Starlette application (API and static page) and
`cockpit.server` runs it under uvicorn inside the bot's event loop (started and stopped by
`bot.lifecycle`).
"""
