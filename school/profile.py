"""School profile: everything that differs between schools, loaded from one TOML file.

A profile is validated into frozen pydantic models. Errors are reported as
``"{filename}:{line}: {dotted.path}: {message}"`` so a school admin can fix the file.

This module is the profile's public face; the parts live in their own modules:
:mod:`school.profile_model` (the whole profile and its lookups), :mod:`school.profile_sections`
(its sections), :mod:`school.calendar` (calendar and working time), :mod:`school.places`
(matching free text), :mod:`school.durations`, :mod:`school.profile_loading` (loading and
errors), :mod:`school.cross_checks` and :mod:`school.toml_lines`.
"""

from __future__ import annotations

from school.calendar import CalendarSettings, DateRange, WorkingHours
from school.durations import Duration, parse_duration
from school.places import PlaceMatch
from school.profile_loading import (
    ProfileError,
    ProfileProblem,
    check_profile,
    default_profile,
    default_profile_path,
    load_profile,
    operator_language,
)
from school.profile_model import SchoolProfile
from school.profile_sections import (
    AppraisalSettings,
    AppraisalWeights,
    Building,
    Campus,
    CronSchedule,
    Grade,
    InspectionItem,
    InspectionPlan,
    InspectionSettings,
    Post,
    PublishRule,
    RepairCategory,
    RepairSettings,
    School,
    StarRule,
    Urgency,
    WorklogSettings,
)
from school.toml_lines import LineLocator

__all__ = [
    "AppraisalSettings",
    "AppraisalWeights",
    "Building",
    "CalendarSettings",
    "Campus",
    "CronSchedule",
    "DateRange",
    "Duration",
    "Grade",
    "InspectionItem",
    "InspectionPlan",
    "InspectionSettings",
    "LineLocator",
    "PlaceMatch",
    "Post",
    "ProfileError",
    "ProfileProblem",
    "PublishRule",
    "RepairCategory",
    "RepairSettings",
    "School",
    "SchoolProfile",
    "StarRule",
    "Urgency",
    "WorkingHours",
    "WorklogSettings",
    "check_profile",
    "default_profile",
    "default_profile_path",
    "load_profile",
    "operator_language",
    "parse_duration",
]
