"""The school: its profile (places, posts, calendar, checklists, appraisal scheme), languages,
clock and settings. The bottom layer: it imports nothing of Houqin."""
