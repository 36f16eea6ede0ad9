namespace Aviary.Kubernetes.Tests;
