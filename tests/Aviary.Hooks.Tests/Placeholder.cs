namespace Aviary.Hooks.Tests;
