// Placeholder: filled in by the area owner.
#include <catch2/catch.hpp>
