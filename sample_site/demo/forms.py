"""The payload form of the demo's user action (see djag.user_actions)."""

from django import forms


class PauseMailForm(forms.Form):
    until = forms.DateTimeField(help_text="No queued mail is sent before this time.")
    reason = forms.CharField(max_length=200, required=False)
