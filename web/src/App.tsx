import { type ReactNode, useEffect, useState } from 'react';
import { Audit } from './pages/Audit';
import { BuildDetails } from './pages/BuildDetails';
import { ComponentPage } from './pages/Component';
import { ExecutionDetails } from './pages/ExecutionDetails';
import { Organization } from './pages/Organization';
import { Project } from './pages/Project';
import { Settings } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { Link, match, pathOf, Redirect, usePath } from './router';
import { useSession } from './session';
import { Loading } from './ui';

const COMPONENT = '/orgs/:org/projects/:project/components/:component';

type Params = Record<string, string>;

// Each page by URL pattern, most specific first where two could match.
const ROUTES: [string, (p: Params, path: string) => ReactNode][] = [
  ['/orgs/:org', (p) => <Organization org={p.org!} />],
  ['/orgs/:org/settings', (p) => <Settings org={p.org!} />],
  ['/orgs/:org/audit', (p) => <Audit org={p.org!} />],
  ['/orgs/:org/projects/:project', (p) => <Project org={p.org!} project={p.project!} />],
  [COMPONENT, (_, path) => <Redirect to={`${path.replace(/\/$/, '')}/build`} />],
  [
    `${COMPONENT}/build`,
    (p) => <ComponentPage tab="build" org={p.org!} project={p.project!} component={p.component!} />,
  ],
  [
    `${COMPONENT}/deploy`,
    (p) => <ComponentPage tab="deploy" org={p.org!} project={p.project!} component={p.component!} />,
  ],
  [
    `${COMPONENT}/config`,
    (p) => <ComponentPage tab="config" org={p.org!} project={p.project!} component={p.component!} />,
  ],
  [
    `${COMPONENT}/tasks`,
    (p) => <ComponentPage tab="tasks" org={p.org!} project={p.project!} component={p.component!} />,
  ],
  [
    `${COMPONENT}/observability`,
    (p) => <ComponentPage tab="observability" org={p.org!} project={p.project!} component={p.component!} />,
  ],
  ['/orgs/:org/builds/:id', (p) => <BuildDetails org={p.org!} id={p.id!} />],
  ['/orgs/:org/executions/:id', (p) => <ExecutionDetails org={p.org!} id={p.id!} />],
];

function Page({ path, home }: { path: string; home: string }) {
  if (path === '/') return <Redirect to={home} />;
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, path);
    if (params) return render(params, path);
  }
  return (
    <div className="problem" role="alert">
      <strong>This page does not exist</strong>
      <p className="fix">
        Check the address, or go to <Link href={home}>your organization</Link>.
      </p>
    </div>
  );
}

type Theme = 'light' | 'dark';

function useTheme(): [Theme, () => void] {
  const preferred = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  const [theme, setTheme] = useState<Theme>(
    () => (localStorage.getItem('rondo-theme') as Theme) ?? preferred,
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('rondo-theme', next);
    setTheme(next);
  };
  return [theme, toggle];
}

export function App() {
  const { state, signOut } = useSession();
  const path = usePath();
  const [theme, toggleTheme] = useTheme();

  if (state.status === 'signed-out') return <SignIn />;
  // While the session is read, a deep link's page already asks for its data (one round trip, not
  // two); without a session those requests answer 401 and the sign-in page replaces it.
  const me = state.status === 'signed-in' ? state.me : null;
  if (!me && path === '/') return <Loading what="your session" />;
  const org = me?.defaultOrg ?? me?.organizations[0]?.name ?? 'default';
  const home = pathOf('orgs', org);
  return (
    <>
      <a href="#main" className="skip">
        Skip to content
      </a>
      {me && (
        <header className="top">
          <Link href={home} className="brand">
            Rondo
          </Link>
          <nav aria-label="Organization" className="top-links">
            <Link href={home}>Projects</Link>
            <Link href={`${home}/settings`}>Settings</Link>
          </nav>
          <span className="spacer" />
          <button
            type="button"
            onClick={toggleTheme}
            aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
          >
            {theme === 'dark' ? 'Light' : 'Dark'}
          </button>
          <span className="who">{me.name}</span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </header>
      )}
      <main id="main">
        <Page path={path} home={home} />
      </main>
    </>
  );
}
