from __future__ import annotations

from django import forms

from accounts.models import Role

GENERATE_HELP = "Leave empty to generate one; it is shown once, on the next page."


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Initial password",
        help_text=GENERATE_HELP,
    )


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class UserActiveForm(forms.Form):
    active = forms.BooleanField(required=False)


class UserPasswordForm(forms.Form):
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="New password",
        help_text=GENERATE_HELP,
    )


class SampleRateForm(forms.Form):
    rate = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=1,
        max_digits=4,
        decimal_places=3,
        label="Audit sample rate",
        help_text="0 to 1 (0.2 = one clean encounter in five goes to a supervisor); "
        "empty = the site default.",
        widget=forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "1"}),
    )
