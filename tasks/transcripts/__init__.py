"""Transcripts: record one received, remind applicants still waiting on one."""

from tasks.transcripts.transcripts import record_transcript, remind_missing_transcripts

__all__ = ["record_transcript", "remind_missing_transcripts"]
