"""The OpenAPI document is valid and covers the contract's routes for this area."""

from __future__ import annotations

from openapi_spec_validator import validate

CONTRACT = {
    "/auth/register": {"post"},
    "/auth/login": {"post"},
    "/auth/logout": {"post"},
    "/me": {"get", "patch"},
    "/me/interests": {"put"},
    "/users/{user_id}": {"get"},
    "/users/{user_id}/notes": {"get"},
    "/users/{user_id}/follow": {"post", "delete"},
    "/users/{user_id}/followers": {"get"},
    "/users/{user_id}/following": {"get"},
    "/media/images": {"post"},
    "/media/images/{image_id}": {"get"},
    "/notes": {"post"},
    "/notes/{note_id}": {"get", "patch", "delete"},
    "/notes/{note_id}/like": {"post", "delete"},
    "/notes/{note_id}/collect": {"post", "delete"},
    "/notes/{note_id}/share": {"post"},
    "/s/{token}": {"get"},
    "/notes/{note_id}/comments": {"get", "post"},
    "/comments/{comment_id}/like": {"post", "delete"},
    "/comments/{comment_id}": {"delete"},
    "/albums": {"get", "post"},
    "/users/{user_id}/albums": {"get"},
    "/albums/{album_id}": {"get", "patch", "delete"},
    "/albums/{album_id}/notes": {"get"},
    "/channels": {"get"},
    "/topics": {"get", "post"},
    "/topics/{topic_id}": {"get"},
    "/topics/{topic_id}/notes": {"get"},
    "/onboarding/interests": {"get"},
    "/topics/{topic_id}/follow": {"post", "delete"},
    "/feeds/following": {"get"},
    "/notifications": {"get"},
    "/notifications/read": {"post"},
    "/admin/users/{user_id}/roles": {"put"},
    "/admin/users": {"get"},
    "/admin/stats": {"get"},
}


def test_document_is_valid_openapi_and_covers_the_contract(client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    for path, methods in CONTRACT.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, document["paths"][path].keys())
    register = document["paths"]["/auth/register"]["post"]
    assert "429" in register["responses"] and "409" in register["responses"]
