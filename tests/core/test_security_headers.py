import pytest


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client_for, manager):
    response = client_for(manager).get("/accounts/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_no_template_carries_inline_script(settings):
    """Inline script would be blocked by the policy: charts must stay JSON + charts.js."""
    import re
    from pathlib import Path

    root = Path(settings.BASE_DIR) / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        html = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            if "src=" not in tag and "application/json" not in tag:
                offenders.append(f"{path.relative_to(root)}: {tag}")
        if re.search(r"\son(click|change|submit|load|input)=", html):
            offenders.append(f"{path.relative_to(root)}: inline event handler")
    assert offenders == []
