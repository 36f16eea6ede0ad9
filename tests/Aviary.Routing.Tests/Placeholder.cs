namespace Aviary.Routing.Tests;
