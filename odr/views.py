from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from odr.context_processors import Navigation


def home(request):
    """The public landing page: what the platform is and who to ask."""
    return render(request, "home.html")


@login_required
def portal(request):
    """Where a person lands after logging in: their own part of the site."""
    nav = Navigation(request.user)
    if nav.merchants:
        return redirect("merchant:dashboard")
    if nav.mediator_bodies:
        return redirect("mediator:workspace")
    if nav.compliance_bodies:
        return redirect("compliance:dashboard", slug=nav.compliance_bodies[0].slug)
    if nav.is_consumer:
        return redirect("complaints:list")
    return redirect("home")
