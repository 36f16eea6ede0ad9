namespace Aviary.Demo.Tests;
