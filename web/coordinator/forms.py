from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField

from ..domain.fields import EVENT
from ..forms import field_args, industry_picker


class EventForm(FlaskForm):
    """The fields of a new matchmaking event, labelled from the event's field spec. The page's
    CSRF token comes from its ActionForm and the service validates the input, so this form only
    renders (and refills) the fields."""

    class Meta:
        csrf = False

    name = StringField(**field_args(EVENT["name"]))
    starts_at = StringField(**field_args(EVENT["starts_at"]))
    place = StringField(**field_args(EVENT["place"]))
    online = BooleanField(**field_args(EVENT["online"]))
    industry_codes = SelectMultipleField(**field_args(EVENT["industry_codes"], render_kw=industry_picker(EVENT["industry_codes"].max_items)))
