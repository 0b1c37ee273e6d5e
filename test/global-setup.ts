import Docker from 'dockerode';

/** After the whole run: remove the images the tests built (labelled, so nothing else is touched). */
export async function teardown(): Promise<void> {
  const docker = new Docker({ socketPath: process.env.RONDO_DOCKER_SOCKET ?? '/var/run/docker.sock' });
  try {
    // The test images, and the task sandbox image the data plane built for the tests' runs.
    const images = [
      ...(await docker.listImages({ filters: { label: ['rondo.test-image=1'] } })),
      ...(await docker.listImages({ filters: { label: ['rondo.sandbox=image'] } })),
    ];
    await Promise.all(
      images.map((i) =>
        docker
          .getImage(i.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  } catch {
    // no engine: nothing was built
  }
}
