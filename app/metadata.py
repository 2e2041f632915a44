"""Every domain's models, imported so that `Base.metadata` is complete for Alembic and the
tests. Nothing else should import this module: code imports the models of the domain it
needs from that domain's `models.py`."""

from app.accounts import models as accounts_models
from app.core.jobs import models as jobs_models
from app.core.models import Base
from app.creators import models as creators_models
from app.editorial import models as editorial_models
from app.experiments import models as experiments_models
from app.feeds import models as feeds_models
from app.growth import models as growth_models
from app.lifecycle import models as lifecycle_models
from app.media import models as media_models
from app.notes import models as notes_models
from app.notifications import models as notifications_models
from app.search import models as search_models
from app.social import models as social_models
from moderation import models as moderation_models

DOMAIN_MODELS = (
    accounts_models,
    creators_models,
    jobs_models,
    editorial_models,
    experiments_models,
    feeds_models,
    growth_models,
    lifecycle_models,
    media_models,
    notes_models,
    notifications_models,
    search_models,
    social_models,
    moderation_models,
)

__all__ = ["DOMAIN_MODELS", "Base"]
