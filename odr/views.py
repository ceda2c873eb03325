from django.shortcuts import render


def home(request):
    """The public landing page: what the platform is and who to ask."""
    return render(request, "home.html")
