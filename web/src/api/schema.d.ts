// Generated from /api/v1/openapi.json by `npm run console:api-types`; do not edit.
export interface paths {
    "/api/v1/admin/master-key/rotate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Generates a new master key and re-wraps every data key with it in one transaction; values stay readable throughout. Platform admins only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            keyId: string;
                            rewrapped: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Platform-level audit events (no organization): users, organizations, tokens, failed authentication, requests naming an organization the caller cannot see. Platform admins only. */
        get: {
            parameters: {
                query?: {
                    action?: string;
                    actor?: string;
                    cursor?: string;
                    limit?: number;
                    outcome?: "success" | "denied";
                    resource?: string;
                    resourceType?: string;
                    since?: string;
                    until?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                action: string;
                                actor: string;
                                createdAt: string;
                                detail: {
                                    [key: string]: unknown;
                                };
                                id: string;
                                org: string | null;
                                /** @enum {string} */
                                outcome: "success" | "denied";
                                requestId: string;
                                resource: string;
                                resourceType: string;
                                sourceIp: string;
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            defaultOrg: string | null;
                            displayName: string;
                            id: string;
                            name: string;
                            organizations: {
                                name: string;
                                /** @enum {string} */
                                role: "admin" | "developer" | "viewer";
                            }[];
                            platformAdmin: boolean;
                            scopes: ("read" | "write" | "admin")[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                displayName: string;
                                id: string;
                                name: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Creates an organization with environments development and production and a default pipeline. Platform admins only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        displayName?: string;
                        name: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            displayName: string;
                            id: string;
                            name: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            displayName: string;
                            id: string;
                            name: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        displayName?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            displayName: string;
                            id: string;
                            name: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: {
                    component?: string;
                    status?: "pending" | "approved" | "rejected" | "cancelled";
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                approvals: number;
                                comment: string;
                                component: string;
                                createdAt: string;
                                decisions: {
                                    at: string;
                                    comment: string;
                                    /** @enum {string} */
                                    decision: "approved" | "rejected";
                                    user: string;
                                }[];
                                /** @description the promotion started when the request was approved */
                                deployment: string | null;
                                /** @description the environment the release is to be promoted into */
                                environment: string;
                                /** @description the environment the release was active in when requested */
                                from: string;
                                id: string;
                                project: string;
                                release: string;
                                requestedBy: string;
                                required: number;
                                /** @enum {string} */
                                status: "pending" | "approved" | "rejected" | "cancelled";
                                updatedAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/approvals/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            approvals: number;
                            comment: string;
                            component: string;
                            createdAt: string;
                            decisions: {
                                at: string;
                                comment: string;
                                /** @enum {string} */
                                decision: "approved" | "rejected";
                                user: string;
                            }[];
                            /** @description the promotion started when the request was approved */
                            deployment: string | null;
                            /** @description the environment the release is to be promoted into */
                            environment: string;
                            /** @description the environment the release was active in when requested */
                            from: string;
                            id: string;
                            project: string;
                            release: string;
                            requestedBy: string;
                            required: number;
                            /** @enum {string} */
                            status: "pending" | "approved" | "rejected" | "cancelled";
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/approvals/{id}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description A reviewer approves; the requester cannot. Approval starts the promotion once enough reviewers agree. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        comment?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            approvals: number;
                            comment: string;
                            component: string;
                            createdAt: string;
                            decisions: {
                                at: string;
                                comment: string;
                                /** @enum {string} */
                                decision: "approved" | "rejected";
                                user: string;
                            }[];
                            /** @description the promotion started when the request was approved */
                            deployment: string | null;
                            /** @description the environment the release is to be promoted into */
                            environment: string;
                            /** @description the environment the release was active in when requested */
                            from: string;
                            id: string;
                            project: string;
                            release: string;
                            requestedBy: string;
                            required: number;
                            /** @enum {string} */
                            status: "pending" | "approved" | "rejected" | "cancelled";
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/approvals/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description The requester (or an admin) withdraws the request. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        comment?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            approvals: number;
                            comment: string;
                            component: string;
                            createdAt: string;
                            decisions: {
                                at: string;
                                comment: string;
                                /** @enum {string} */
                                decision: "approved" | "rejected";
                                user: string;
                            }[];
                            /** @description the promotion started when the request was approved */
                            deployment: string | null;
                            /** @description the environment the release is to be promoted into */
                            environment: string;
                            /** @description the environment the release was active in when requested */
                            from: string;
                            id: string;
                            project: string;
                            release: string;
                            requestedBy: string;
                            required: number;
                            /** @enum {string} */
                            status: "pending" | "approved" | "rejected" | "cancelled";
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/approvals/{id}/reject": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description A reviewer rejects; the requester cannot. Approval starts the promotion once enough reviewers agree. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        comment?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            approvals: number;
                            comment: string;
                            component: string;
                            createdAt: string;
                            decisions: {
                                at: string;
                                comment: string;
                                /** @enum {string} */
                                decision: "approved" | "rejected";
                                user: string;
                            }[];
                            /** @description the promotion started when the request was approved */
                            deployment: string | null;
                            /** @description the environment the release is to be promoted into */
                            environment: string;
                            /** @description the environment the release was active in when requested */
                            from: string;
                            id: string;
                            project: string;
                            release: string;
                            requestedBy: string;
                            required: number;
                            /** @enum {string} */
                            status: "pending" | "approved" | "rejected" | "cancelled";
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Audit events of the organization, newest first. Admins only. */
        get: {
            parameters: {
                query?: {
                    action?: string;
                    actor?: string;
                    cursor?: string;
                    limit?: number;
                    outcome?: "success" | "denied";
                    resource?: string;
                    resourceType?: string;
                    since?: string;
                    until?: string;
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                action: string;
                                actor: string;
                                createdAt: string;
                                detail: {
                                    [key: string]: unknown;
                                };
                                id: string;
                                org: string | null;
                                /** @enum {string} */
                                outcome: "success" | "denied";
                                requestId: string;
                                resource: string;
                                resourceType: string;
                                sourceIp: string;
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/builds/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            commit: string | null;
                            component: string;
                            createdAt: string;
                            createdBy: string;
                            finishedAt: string | null;
                            id: string;
                            image: string | null;
                            project: string;
                            reason: string | null;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "replaced" | "collected";
                            steps: {
                                endedAt?: string;
                                log: string;
                                name: string;
                                startedAt?: string;
                                /** @enum {string} */
                                status: "queued" | "running" | "succeeded" | "failed" | "skipped";
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/builds/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            commit: string | null;
                            component: string;
                            createdAt: string;
                            createdBy: string;
                            finishedAt: string | null;
                            id: string;
                            image: string | null;
                            project: string;
                            reason: string | null;
                            /** @enum {string} */
                            status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "replaced" | "collected";
                            steps: {
                                endedAt?: string;
                                log: string;
                                name: string;
                                startedAt?: string;
                                /** @enum {string} */
                                status: "queued" | "running" | "succeeded" | "failed" | "skipped";
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/builds/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The build log as text, step by step; with follow=1 the response streams (chunked) until the build ends. */
        get: {
            parameters: {
                query?: {
                    follow?: "0" | "1" | "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/builds/{id}/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A server-sent event stream (text/event-stream; the session cookie authenticates an EventSource). Events: build (the build without step logs, at the start and at each change), log ({text}: what the steps printed since, with a `--- step` line before each), progress ({line}: the running step's progress, not stored), end ({status}) once the build has ended. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/components": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Components of every project of the organization, ordered by project then name. */
        get: {
            parameters: {
                query?: {
                    cursor?: string;
                    limit?: number;
                    project?: string;
                    type?: string;
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                autoBuild: boolean;
                                autoDeploy: boolean;
                                buildConfigs: {
                                    [key: string]: string;
                                };
                                buildPreset: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                                /** @description pushed tags start builds too */
                                buildTags: boolean;
                                createdAt: string;
                                description: string;
                                displayName: string;
                                endpoints: {
                                    basePath: string;
                                    /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                    declaredName?: string;
                                    name: string;
                                    port: number;
                                    /** @enum {string} */
                                    type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                    visibility: ("Project" | "Organization" | "Public")[];
                                }[];
                                id: string;
                                name: string;
                                project: string;
                                /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                                resourceVersion: number;
                                source: {
                                    branch: string;
                                    /** @enum {string} */
                                    kind: "git";
                                    path: string;
                                    repoUrl: string;
                                } | {
                                    image: string;
                                    /** @enum {string} */
                                    kind: "image";
                                };
                                /** @description a token for the private repository is stored (encrypted; never returned) */
                                sourceToken: boolean;
                                /** @enum {string} */
                                type: "service" | "web-app" | "scheduled-task" | "manual-task" | "webhook";
                                updatedAt: string;
                                /** @description paths besides the component directory whose changes start a build */
                                watchPaths: string[];
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/dataplanes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @description docker: { socketPath? }; kubernetes: { server, context, credentials: 'stored encrypted', registry?: { address, credentials? } } (the kubeconfig and pull credentials are never shown) */
                                config: {
                                    [key: string]: unknown;
                                };
                                createdAt: string;
                                /** @description the environments it hosts */
                                environments: string[];
                                id: string;
                                name: string;
                                /** @description checked when one data plane is read (GET), within a few seconds; absent from lists */
                                status?: {
                                    /** @description what workloads may use: the engine's host, or the Ready nodes' allocatable */
                                    capacity?: {
                                        cpus: number;
                                        memoryBytes: number;
                                        /** @description Kubernetes: the Ready nodes counted */
                                        nodes?: number;
                                    };
                                    checkedAt: string;
                                    /** @description it answered and accepted the credentials */
                                    reachable: boolean;
                                    /** @description unreachable: why, and what to fix; reachable: what could not be read (capacity), if anything */
                                    reason?: string;
                                    tookMs: number;
                                    /** @description the engine's or the API server's version */
                                    version?: string;
                                };
                                /** @enum {string} */
                                type: "docker" | "kubernetes";
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Registers a Docker engine or a Kubernetes cluster as a data plane. A kubeconfig is checked (its context, an https server, a user), then stored encrypted under the master key. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /**
                         * @description the engine's socket (Docker or Podman); default the local engine
                         * @default {}
                         */
                        config?: {
                            socketPath?: string;
                        };
                        name: string;
                        /** @enum {string} */
                        type: "docker";
                    } | {
                        config: {
                            /** @description the kubeconfig's context to use; default its current-context */
                            context?: string;
                            /** @description the kubeconfig YAML (`kubectl config view --raw --minify`); stored encrypted, never shown again */
                            kubeconfig: string;
                            /** @description where the nodes pull the platform registry's images; absent: the address builds push to */
                            registry?: {
                                /** @description the platform registry as the cluster's nodes reach it (host[:port]); its images are pulled from there by digest */
                                address: string;
                                /** @description with username */
                                password?: string;
                                /** @description pull credentials: stored encrypted, never shown */
                                username?: string;
                            };
                        };
                        name: string;
                        /** @enum {string} */
                        type: "kubernetes";
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description docker: { socketPath? }; kubernetes: { server, context, credentials: 'stored encrypted', registry?: { address, credentials? } } (the kubeconfig and pull credentials are never shown) */
                            config: {
                                [key: string]: unknown;
                            };
                            createdAt: string;
                            /** @description the environments it hosts */
                            environments: string[];
                            id: string;
                            name: string;
                            /** @description checked when one data plane is read (GET), within a few seconds; absent from lists */
                            status?: {
                                /** @description what workloads may use: the engine's host, or the Ready nodes' allocatable */
                                capacity?: {
                                    cpus: number;
                                    memoryBytes: number;
                                    /** @description Kubernetes: the Ready nodes counted */
                                    nodes?: number;
                                };
                                checkedAt: string;
                                /** @description it answered and accepted the credentials */
                                reachable: boolean;
                                /** @description unreachable: why, and what to fix; reachable: what could not be read (capacity), if anything */
                                reason?: string;
                                tookMs: number;
                                /** @description the engine's or the API server's version */
                                version?: string;
                            };
                            /** @enum {string} */
                            type: "docker" | "kubernetes";
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/dataplanes/{dataPlane}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    dataPlane: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description docker: { socketPath? }; kubernetes: { server, context, credentials: 'stored encrypted', registry?: { address, credentials? } } (the kubeconfig and pull credentials are never shown) */
                            config: {
                                [key: string]: unknown;
                            };
                            createdAt: string;
                            /** @description the environments it hosts */
                            environments: string[];
                            id: string;
                            name: string;
                            /** @description checked when one data plane is read (GET), within a few seconds; absent from lists */
                            status?: {
                                /** @description what workloads may use: the engine's host, or the Ready nodes' allocatable */
                                capacity?: {
                                    cpus: number;
                                    memoryBytes: number;
                                    /** @description Kubernetes: the Ready nodes counted */
                                    nodes?: number;
                                };
                                checkedAt: string;
                                /** @description it answered and accepted the credentials */
                                reachable: boolean;
                                /** @description unreachable: why, and what to fix; reachable: what could not be read (capacity), if anything */
                                reason?: string;
                                tookMs: number;
                                /** @description the engine's or the API server's version */
                                version?: string;
                            };
                            /** @enum {string} */
                            type: "docker" | "kubernetes";
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    dataPlane: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/deployments/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                            commit: string | null;
                            component: string;
                            /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                            conditions: {
                                lastTransitionTime: string;
                                message: string;
                                observedGeneration: number;
                                reason: string;
                                /** @enum {string} */
                                status: "True" | "False" | "Unknown";
                                /** @enum {string} */
                                type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                            }[];
                            configRevision: number | null;
                            createdAt: string;
                            createdBy: string | null;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            environment: string;
                            id: string;
                            image: string;
                            /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                            name: string | null;
                            /**
                             * @description where its rollout is; `status` is the coarser word
                             * @enum {string}
                             */
                            phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                            project: string;
                            reason: string | null;
                            release: string | null;
                            replicas: number;
                            /** @description limits per replica or task run; absent: unlimited */
                            resources?: {
                                /** @description CPU limit per replica in millicores (1000 = one core) */
                                cpuMillicores?: number;
                                /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                memoryMiB?: number;
                            };
                            /** @enum {string} */
                            status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                            /** @description task components: how this deployment runs its executions */
                            task?: {
                                /** @enum {string} */
                                concurrencyPolicy: "forbid" | "allow" | "replace";
                                schedule?: {
                                    cron: string;
                                    timezone: string;
                                };
                                startingDeadlineSeconds: number;
                                timeoutSeconds: number;
                            };
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/deployments/{id}/compare": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description What changed from this deployment to another of the same component (`with`): release, image, commit, replicas, endpoints, the frozen configuration’s keys (added, changed, removed; never values), and the release descriptor (declared configurations). */
        get: {
            parameters: {
                query: {
                    with: string;
                };
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            commit: boolean;
                            config: {
                                added: string[];
                                changed: string[];
                                removed: string[];
                            };
                            /** @description the release descriptor: whether it differs, and the configurations it declares */
                            descriptor: {
                                changed: boolean;
                                declaredAdded: string[];
                                declaredRemoved: string[];
                            };
                            endpoints: boolean;
                            from: {
                                action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                                commit: string | null;
                                component: string;
                                /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                                conditions: {
                                    lastTransitionTime: string;
                                    message: string;
                                    observedGeneration: number;
                                    reason: string;
                                    /** @enum {string} */
                                    status: "True" | "False" | "Unknown";
                                    /** @enum {string} */
                                    type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                                }[];
                                configRevision: number | null;
                                createdAt: string;
                                createdBy: string | null;
                                endpoints: {
                                    basePath: string;
                                    /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                    declaredName?: string;
                                    name: string;
                                    port: number;
                                    /** @enum {string} */
                                    type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                    visibility: ("Project" | "Organization" | "Public")[];
                                }[];
                                environment: string;
                                id: string;
                                image: string;
                                /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                                name: string | null;
                                /**
                                 * @description where its rollout is; `status` is the coarser word
                                 * @enum {string}
                                 */
                                phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                                project: string;
                                reason: string | null;
                                release: string | null;
                                replicas: number;
                                /** @description limits per replica or task run; absent: unlimited */
                                resources?: {
                                    /** @description CPU limit per replica in millicores (1000 = one core) */
                                    cpuMillicores?: number;
                                    /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                    memoryMiB?: number;
                                };
                                /** @enum {string} */
                                status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                                /** @description task components: how this deployment runs its executions */
                                task?: {
                                    /** @enum {string} */
                                    concurrencyPolicy: "forbid" | "allow" | "replace";
                                    schedule?: {
                                        cron: string;
                                        timezone: string;
                                    };
                                    startingDeadlineSeconds: number;
                                    timeoutSeconds: number;
                                };
                                updatedAt: string;
                            };
                            image: boolean;
                            release: boolean;
                            replicas: boolean;
                            /** @description memory or CPU limits differ */
                            resources: boolean;
                            to: {
                                action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                                commit: string | null;
                                component: string;
                                /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                                conditions: {
                                    lastTransitionTime: string;
                                    message: string;
                                    observedGeneration: number;
                                    reason: string;
                                    /** @enum {string} */
                                    status: "True" | "False" | "Unknown";
                                    /** @enum {string} */
                                    type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                                }[];
                                configRevision: number | null;
                                createdAt: string;
                                createdBy: string | null;
                                endpoints: {
                                    basePath: string;
                                    /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                    declaredName?: string;
                                    name: string;
                                    port: number;
                                    /** @enum {string} */
                                    type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                    visibility: ("Project" | "Organization" | "Public")[];
                                }[];
                                environment: string;
                                id: string;
                                image: string;
                                /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                                name: string | null;
                                /**
                                 * @description where its rollout is; `status` is the coarser word
                                 * @enum {string}
                                 */
                                phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                                project: string;
                                reason: string | null;
                                release: string | null;
                                replicas: number;
                                /** @description limits per replica or task run; absent: unlimited */
                                resources?: {
                                    /** @description CPU limit per replica in millicores (1000 = one core) */
                                    cpuMillicores?: number;
                                    /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                    memoryMiB?: number;
                                };
                                /** @enum {string} */
                                status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                                /** @description task components: how this deployment runs its executions */
                                task?: {
                                    /** @enum {string} */
                                    concurrencyPolicy: "forbid" | "allow" | "replace";
                                    schedule?: {
                                        cron: string;
                                        timezone: string;
                                    };
                                    startingDeadlineSeconds: number;
                                    timeoutSeconds: number;
                                };
                                updatedAt: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/environments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: {
                    cursor?: string;
                    limit?: number;
                    production?: "true" | "false";
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @description who must approve promotions into this environment; null: no approval needed */
                                approvalPolicy: {
                                    required: number;
                                    roles: string[];
                                    users: string[];
                                } | null;
                                createdAt: string;
                                dataPlane: string;
                                displayName: string;
                                id: string;
                                name: string;
                                production: boolean;
                                /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                                resourceVersion: number;
                                updatedAt: string;
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description who must approve promotions into it, set in the same change as the rest; null removes it */
                        approvalPolicy?: {
                            required: number;
                            roles?: string[];
                            users?: string[];
                        } | null;
                        dataPlane?: string;
                        displayName?: string;
                        name: string;
                        production?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description who must approve promotions into this environment; null: no approval needed */
                            approvalPolicy: {
                                required: number;
                                roles: string[];
                                users: string[];
                            } | null;
                            createdAt: string;
                            dataPlane: string;
                            displayName: string;
                            id: string;
                            name: string;
                            production: boolean;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/environments/{env}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    env: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description who must approve promotions into this environment; null: no approval needed */
                            approvalPolicy: {
                                required: number;
                                roles: string[];
                                users: string[];
                            } | null;
                            createdAt: string;
                            dataPlane: string;
                            displayName: string;
                            id: string;
                            name: string;
                            production: boolean;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    env: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    env: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description who must approve promotions into it, set in the same change as the rest; null removes it */
                        approvalPolicy?: {
                            required: number;
                            roles?: string[];
                            users?: string[];
                        } | null;
                        dataPlane?: string;
                        displayName?: string;
                        production?: boolean;
                        /** @description the resourceVersion you read: refused (409) if the resource changed since */
                        resourceVersion?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description who must approve promotions into this environment; null: no approval needed */
                            approvalPolicy: {
                                required: number;
                                roles: string[];
                                users: string[];
                            } | null;
                            createdAt: string;
                            dataPlane: string;
                            displayName: string;
                            id: string;
                            name: string;
                            production: boolean;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/environments/{env}/approval-policy": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** @description Promotions into this environment need `required` approvals from the named users or members with the named roles (§6.5). */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    env: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        required: number;
                        roles?: string[];
                        users?: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description who must approve promotions into this environment; null: no approval needed */
                            approvalPolicy: {
                                required: number;
                                roles: string[];
                                users: string[];
                            } | null;
                            createdAt: string;
                            dataPlane: string;
                            displayName: string;
                            id: string;
                            name: string;
                            production: boolean;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    env: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description who must approve promotions into this environment; null: no approval needed */
                            approvalPolicy: {
                                required: number;
                                roles: string[];
                                users: string[];
                            } | null;
                            createdAt: string;
                            dataPlane: string;
                            displayName: string;
                            id: string;
                            name: string;
                            production: boolean;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/executions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            args: string[];
                            component: string;
                            /** @description scheduled runs: the due time */
                            dueAt: string | null;
                            durationMs: number | null;
                            environment: string;
                            exitCode: number | null;
                            finishedAt: string | null;
                            id: string;
                            logsTruncated: boolean;
                            project: string;
                            reason: string | null;
                            revision: {
                                build: string | null;
                                commit: string | null;
                                /** @description the deployment name whose image and configuration ran */
                                deployment: string | null;
                                deploymentId: string;
                            };
                            startedAt: string | null;
                            /** @enum {string} */
                            status: "running" | "succeeded" | "failed" | "timed-out" | "cancelled" | "skipped" | "missed";
                            /** @enum {string} */
                            trigger: "schedule" | "manual" | "api";
                            triggeredAt: string;
                            triggeredBy: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/executions/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Stops a running execution (SIGTERM, then SIGKILL after a grace period). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            args: string[];
                            component: string;
                            /** @description scheduled runs: the due time */
                            dueAt: string | null;
                            durationMs: number | null;
                            environment: string;
                            exitCode: number | null;
                            finishedAt: string | null;
                            id: string;
                            logsTruncated: boolean;
                            project: string;
                            reason: string | null;
                            revision: {
                                build: string | null;
                                commit: string | null;
                                /** @description the deployment name whose image and configuration ran */
                                deployment: string | null;
                                deploymentId: string;
                            };
                            startedAt: string | null;
                            /** @enum {string} */
                            status: "running" | "succeeded" | "failed" | "timed-out" | "cancelled" | "skipped" | "missed";
                            /** @enum {string} */
                            trigger: "schedule" | "manual" | "api";
                            triggeredAt: string;
                            triggeredBy: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/executions/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The execution’s output as text (kept after the container is gone); with follow=1 the response streams until the run ends. */
        get: {
            parameters: {
                query?: {
                    follow?: "0" | "1" | "true" | "false";
                };
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/executions/{id}/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A server-sent event stream (text/event-stream; the session cookie authenticates an EventSource). Events: execution (its state, at the start and at the end), log ({text}: its output as it is printed, secrets redacted), end ({status}). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Per project and environment, how many components are active, being deployed, failed their newest rollout, or not deployed (from Rondo’s records; replica states are on each component’s status). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                components: number;
                                environments: {
                                    counts: {
                                        /** @description newest deployment active */
                                        active: number;
                                        /** @description newest deployment pending or rolling out */
                                        deploying: number;
                                        /** @description newest rollout failed (an older release may still serve) */
                                        failed: number;
                                        notDeployed: number;
                                    };
                                    environment: string;
                                }[];
                                project: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/members": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                /** @enum {string} */
                                role: "admin" | "developer" | "viewer";
                                user: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/members/{user}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    user: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @enum {string} */
                        role: "admin" | "developer" | "viewer";
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            /** @enum {string} */
                            role: "admin" | "developer" | "viewer";
                            user: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    user: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/pipelines": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: {
                    cursor?: string;
                    limit?: number;
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                environments: string[];
                                id: string;
                                isDefault: boolean;
                                name: string;
                                /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                                resourceVersion: number;
                                updatedAt: string;
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Environment names in promotion order */
                        environments: string[];
                        isDefault?: boolean;
                        name: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            environments: string[];
                            id: string;
                            isDefault: boolean;
                            name: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/pipelines/{pipeline}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    pipeline: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            environments: string[];
                            id: string;
                            isDefault: boolean;
                            name: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    pipeline: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    pipeline: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Environment names in promotion order */
                        environments?: string[];
                        isDefault?: boolean;
                        /** @description the resourceVersion you read: refused (409) if the resource changed since */
                        resourceVersion?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            environments: string[];
                            id: string;
                            isDefault: boolean;
                            name: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: {
                    cursor?: string;
                    limit?: number;
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                description: string;
                                displayName: string;
                                id: string;
                                name: string;
                                pipeline: string;
                                /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                                resourceVersion: number;
                                updatedAt: string;
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        description?: string;
                        displayName?: string;
                        name: string;
                        pipeline?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            description: string;
                            displayName: string;
                            id: string;
                            name: string;
                            pipeline: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            description: string;
                            displayName: string;
                            id: string;
                            name: string;
                            pipeline: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        description?: string;
                        displayName?: string;
                        pipeline?: string;
                        /** @description the resourceVersion you read: refused (409) if the resource changed since */
                        resourceVersion?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            description: string;
                            displayName: string;
                            id: string;
                            name: string;
                            pipeline: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: {
                    cursor?: string;
                    limit?: number;
                    type?: string;
                };
                header?: never;
                path: {
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                autoBuild: boolean;
                                autoDeploy: boolean;
                                buildConfigs: {
                                    [key: string]: string;
                                };
                                buildPreset: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                                /** @description pushed tags start builds too */
                                buildTags: boolean;
                                createdAt: string;
                                description: string;
                                displayName: string;
                                endpoints: {
                                    basePath: string;
                                    /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                    declaredName?: string;
                                    name: string;
                                    port: number;
                                    /** @enum {string} */
                                    type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                    visibility: ("Project" | "Organization" | "Public")[];
                                }[];
                                id: string;
                                name: string;
                                project: string;
                                /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                                resourceVersion: number;
                                source: {
                                    branch: string;
                                    /** @enum {string} */
                                    kind: "git";
                                    path: string;
                                    repoUrl: string;
                                } | {
                                    image: string;
                                    /** @enum {string} */
                                    kind: "image";
                                };
                                /** @description a token for the private repository is stored (encrypted; never returned) */
                                sourceToken: boolean;
                                /** @enum {string} */
                                type: "service" | "web-app" | "scheduled-task" | "manual-task" | "webhook";
                                updatedAt: string;
                                /** @description paths besides the component directory whose changes start a build */
                                watchPaths: string[];
                            }[];
                            nextCursor?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        autoBuild?: boolean;
                        autoDeploy?: boolean;
                        buildConfigs?: {
                            [key: string]: string;
                        };
                        buildPreset?: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                        buildTags?: boolean;
                        description?: string;
                        displayName?: string;
                        /** @description for image components, which have no descriptor */
                        endpoints?: {
                            /** @description path on the service the gateway forwards to; default / */
                            basePath?: string;
                            /** @description default: the type in lower case, e.g. rest */
                            name?: string;
                            port: number;
                            /**
                             * @description default REST
                             * @enum {string}
                             */
                            type?: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                            /** @description default [Public] */
                            visibility?: ("Project" | "Organization" | "Public")[];
                        }[];
                        name: string;
                        source: {
                            /** @description default main */
                            branch?: string;
                            /** @description bring your own image: an image reference instead of a repository */
                            image?: string;
                            /** @description component directory inside the repository; default "." */
                            path?: string;
                            /** @description https://, http://, ssh://, git://, file:// or user@host:path */
                            repoUrl?: string;
                        };
                        /** @description service | web-app | scheduled-task | manual-task | webhook */
                        type: string;
                        watchPaths?: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            autoBuild: boolean;
                            autoDeploy: boolean;
                            buildConfigs: {
                                [key: string]: string;
                            };
                            buildPreset: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                            /** @description pushed tags start builds too */
                            buildTags: boolean;
                            createdAt: string;
                            description: string;
                            displayName: string;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            id: string;
                            name: string;
                            project: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            source: {
                                branch: string;
                                /** @enum {string} */
                                kind: "git";
                                path: string;
                                repoUrl: string;
                            } | {
                                image: string;
                                /** @enum {string} */
                                kind: "image";
                            };
                            /** @description a token for the private repository is stored (encrypted; never returned) */
                            sourceToken: boolean;
                            /** @enum {string} */
                            type: "service" | "web-app" | "scheduled-task" | "manual-task" | "webhook";
                            updatedAt: string;
                            /** @description paths besides the component directory whose changes start a build */
                            watchPaths: string[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            autoBuild: boolean;
                            autoDeploy: boolean;
                            buildConfigs: {
                                [key: string]: string;
                            };
                            buildPreset: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                            /** @description pushed tags start builds too */
                            buildTags: boolean;
                            createdAt: string;
                            description: string;
                            displayName: string;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            id: string;
                            name: string;
                            project: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            source: {
                                branch: string;
                                /** @enum {string} */
                                kind: "git";
                                path: string;
                                repoUrl: string;
                            } | {
                                image: string;
                                /** @enum {string} */
                                kind: "image";
                            };
                            /** @description a token for the private repository is stored (encrypted; never returned) */
                            sourceToken: boolean;
                            /** @enum {string} */
                            type: "service" | "web-app" | "scheduled-task" | "manual-task" | "webhook";
                            updatedAt: string;
                            /** @description paths besides the component directory whose changes start a build */
                            watchPaths: string[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        autoBuild?: boolean;
                        autoDeploy?: boolean;
                        buildConfigs?: {
                            [key: string]: string;
                        };
                        buildPreset?: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                        buildTags?: boolean;
                        description?: string;
                        displayName?: string;
                        /** @description the resourceVersion you read: refused (409) if the resource changed since */
                        resourceVersion?: number;
                        source?: {
                            /** @description default main */
                            branch?: string;
                            /** @description bring your own image: an image reference instead of a repository */
                            image?: string;
                            /** @description component directory inside the repository; default "." */
                            path?: string;
                            /** @description https://, http://, ssh://, git://, file:// or user@host:path */
                            repoUrl?: string;
                        };
                        watchPaths?: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            autoBuild: boolean;
                            autoDeploy: boolean;
                            buildConfigs: {
                                [key: string]: string;
                            };
                            buildPreset: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                            /** @description pushed tags start builds too */
                            buildTags: boolean;
                            createdAt: string;
                            description: string;
                            displayName: string;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            id: string;
                            name: string;
                            project: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            source: {
                                branch: string;
                                /** @enum {string} */
                                kind: "git";
                                path: string;
                                repoUrl: string;
                            } | {
                                image: string;
                                /** @enum {string} */
                                kind: "image";
                            };
                            /** @description a token for the private repository is stored (encrypted; never returned) */
                            sourceToken: boolean;
                            /** @enum {string} */
                            type: "service" | "web-app" | "scheduled-task" | "manual-task" | "webhook";
                            updatedAt: string;
                            /** @description paths besides the component directory whose changes start a build */
                            watchPaths: string[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The component’s alert rules (at most 10), with whether each is firing now. */
        get: {
            parameters: {
                query?: {
                    environment?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                createdBy: string;
                                emails: string[];
                                enabled: boolean;
                                environment: string;
                                /** @enum {string} */
                                evaluatedBy: "rondo" | "prometheus";
                                /** @enum {string} */
                                kind: "latency" | "traffic" | "resource" | "log" | "build-failure" | "status-code" | "system";
                                name: string;
                                params: {
                                    [key: string]: unknown;
                                };
                                /** @enum {string} */
                                state: "ok" | "firing";
                                updatedAt: string;
                                webhook: {
                                    url: string;
                                } | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Creates an alert rule in one environment. Kinds and their params: latency {percentile 50|90|95|99, thresholdMs, periodMinutes}, traffic {requestsPerMinute, periodMinutes}, resource {resource cpu|memory, threshold (millicores|MiB), periodMinutes}, log {phrase, count, intervalMinutes}, build-failure {}, status-code {codes, count, intervalMinutes}, system {events crash|oom, periodMinutes}. Notifications: a webhook (http(s) URL and a secret that signs each delivery; the secret is never shown again) and/or up to 5 email addresses. The 11th rule of a component is refused (409). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        emails?: string[];
                        enabled?: boolean;
                        environment: string;
                        /** @enum {string} */
                        kind: "latency" | "traffic" | "resource" | "log" | "build-failure" | "status-code" | "system";
                        name: string;
                        params?: {
                            [key: string]: unknown;
                        };
                        webhook?: {
                            secret: string;
                            url: string;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            createdBy: string;
                            emails: string[];
                            enabled: boolean;
                            environment: string;
                            /** @enum {string} */
                            evaluatedBy: "rondo" | "prometheus";
                            /** @enum {string} */
                            kind: "latency" | "traffic" | "resource" | "log" | "build-failure" | "status-code" | "system";
                            name: string;
                            params: {
                                [key: string]: unknown;
                            };
                            /** @enum {string} */
                            state: "ok" | "firing";
                            updatedAt: string;
                            webhook: {
                                url: string;
                            } | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description One alert rule. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    name: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            createdBy: string;
                            emails: string[];
                            enabled: boolean;
                            environment: string;
                            /** @enum {string} */
                            evaluatedBy: "rondo" | "prometheus";
                            /** @enum {string} */
                            kind: "latency" | "traffic" | "resource" | "log" | "build-failure" | "status-code" | "system";
                            name: string;
                            params: {
                                [key: string]: unknown;
                            };
                            /** @enum {string} */
                            state: "ok" | "firing";
                            updatedAt: string;
                            webhook: {
                                url: string;
                            } | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** @description Deletes a rule and its webhook secret; its history stays. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    name: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** @description Enables or disables a rule; disabling a firing rule resolves it. */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    name: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        enabled: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            createdBy: string;
                            emails: string[];
                            enabled: boolean;
                            environment: string;
                            /** @enum {string} */
                            evaluatedBy: "rondo" | "prometheus";
                            /** @enum {string} */
                            kind: "latency" | "traffic" | "resource" | "log" | "build-failure" | "status-code" | "system";
                            name: string;
                            params: {
                                [key: string]: unknown;
                            };
                            /** @enum {string} */
                            state: "ok" | "firing";
                            updatedAt: string;
                            webhook: {
                                url: string;
                            } | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts/history": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The alert history, newest first: when each rule fired and resolved, what it saw, and every notification with its delivery attempts. */
        get: {
            parameters: {
                query?: {
                    environment?: string;
                    limit?: number;
                    rule?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                environment: string;
                                firedAt: string;
                                id: string;
                                kind: string;
                                notifications: {
                                    attempts: {
                                        at: string;
                                        detail: string;
                                        ok: boolean;
                                    }[];
                                    /** @enum {string} */
                                    channel: "webhook" | "email";
                                    /** @enum {string} */
                                    status: "pending" | "delivered" | "failed";
                                    target: string;
                                    /** @enum {string} */
                                    transition: "fired" | "resolved";
                                }[];
                                resolution: string | null;
                                resolvedAt: string | null;
                                rule: string;
                                /** @enum {string} */
                                source: "rondo" | "alertmanager";
                                summary: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/builds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                commit: string | null;
                                component: string;
                                createdAt: string;
                                createdBy: string;
                                finishedAt: string | null;
                                id: string;
                                image: string | null;
                                project: string;
                                reason: string | null;
                                /** @enum {string} */
                                status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "replaced" | "collected";
                                steps: {
                                    endedAt?: string;
                                    log: string;
                                    name: string;
                                    startedAt?: string;
                                    /** @enum {string} */
                                    status: "queued" | "running" | "succeeded" | "failed" | "skipped";
                                }[];
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Builds one commit (default: the head of the component branch). A commit already built with the same settings is returned with reused: true (200) unless force. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        branch?: string;
                        commit?: string;
                        force?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            build: {
                                commit: string | null;
                                component: string;
                                createdAt: string;
                                createdBy: string;
                                finishedAt: string | null;
                                id: string;
                                image: string | null;
                                project: string;
                                reason: string | null;
                                /** @enum {string} */
                                status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "replaced" | "collected";
                                steps: {
                                    endedAt?: string;
                                    log: string;
                                    name: string;
                                    startedAt?: string;
                                    /** @enum {string} */
                                    status: "queued" | "running" | "succeeded" | "failed" | "skipped";
                                }[];
                            };
                            reused: boolean;
                        };
                    };
                };
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            build: {
                                commit: string | null;
                                component: string;
                                createdAt: string;
                                createdBy: string;
                                finishedAt: string | null;
                                id: string;
                                image: string | null;
                                project: string;
                                reason: string | null;
                                /** @enum {string} */
                                status: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "replaced" | "collected";
                                steps: {
                                    endedAt?: string;
                                    log: string;
                                    name: string;
                                    startedAt?: string;
                                    /** @enum {string} */
                                    status: "queued" | "running" | "succeeded" | "failed" | "skipped";
                                }[];
                            };
                            reused: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/config": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The draft configuration of one scope; secret values are never returned. */
        get: {
            parameters: {
                query?: {
                    /** @description the build scope (build arguments and secrets) */
                    build?: "true" | "false";
                    /** @description default: the component scope */
                    environment?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @enum {string} */
                                encoding?: "utf8" | "base64";
                                key: string;
                                /** @enum {string} */
                                kind: "env" | "file";
                                secret: boolean;
                                updatedAt: string;
                                updatedBy: string;
                                /** @description non-secret values only: secrets are write-only */
                                value?: string;
                                version: number;
                            }[];
                            /** @description send it back with a change to refuse it if someone changed the scope meanwhile */
                            revision: number;
                            /** @description `component` (every environment), `build`, or an environment name */
                            scope: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** @description Sets and unsets keys of one scope at once. Keys are env var names or absolute file paths; values are encrypted at rest and take effect at the next deployment. */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description the build scope: env vars become build arguments, secrets BuildKit secrets */
                        build?: boolean;
                        environment?: string;
                        revision?: number;
                        set?: {
                            /** @enum {string} */
                            encoding?: "utf8" | "base64";
                            key: string;
                            secret?: boolean;
                            value: string;
                        }[];
                        unset?: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @enum {string} */
                                encoding?: "utf8" | "base64";
                                key: string;
                                /** @enum {string} */
                                kind: "env" | "file";
                                secret: boolean;
                                updatedAt: string;
                                updatedBy: string;
                                /** @description non-secret values only: secrets are write-only */
                                value?: string;
                                version: number;
                            }[];
                            /** @description send it back with a change to refuse it if someone changed the scope meanwhile */
                            revision: number;
                            /** @description `component` (every environment), `build`, or an environment name */
                            scope: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/deployments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: {
                    environment?: string;
                    limit?: number;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                                commit: string | null;
                                component: string;
                                /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                                conditions: {
                                    lastTransitionTime: string;
                                    message: string;
                                    observedGeneration: number;
                                    reason: string;
                                    /** @enum {string} */
                                    status: "True" | "False" | "Unknown";
                                    /** @enum {string} */
                                    type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                                }[];
                                configRevision: number | null;
                                createdAt: string;
                                createdBy: string | null;
                                endpoints: {
                                    basePath: string;
                                    /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                    declaredName?: string;
                                    name: string;
                                    port: number;
                                    /** @enum {string} */
                                    type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                    visibility: ("Project" | "Organization" | "Public")[];
                                }[];
                                environment: string;
                                id: string;
                                image: string;
                                /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                                name: string | null;
                                /**
                                 * @description where its rollout is; `status` is the coarser word
                                 * @enum {string}
                                 */
                                phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                                project: string;
                                reason: string | null;
                                release: string | null;
                                replicas: number;
                                /** @description limits per replica or task run; absent: unlimited */
                                resources?: {
                                    /** @description CPU limit per replica in millicores (1000 = one core) */
                                    cpuMillicores?: number;
                                    /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                    memoryMiB?: number;
                                };
                                /** @enum {string} */
                                status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                                /** @description task components: how this deployment runs its executions */
                                task?: {
                                    /** @enum {string} */
                                    concurrencyPolicy: "forbid" | "allow" | "replace";
                                    schedule?: {
                                        cron: string;
                                        timezone: string;
                                    };
                                    startingDeadlineSeconds: number;
                                    timeoutSeconds: number;
                                };
                                updatedAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Deploys a build (or an image, or the pending configuration) to an environment as a new deployment of a release; the rollout runs in the background (poll the deployment or the component status). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description a succeeded build of this component; default: what runs there now, else the newest build */
                        buildId?: string;
                        /**
                         * @description tasks: forbid (default) | allow | replace
                         * @enum {string}
                         */
                        concurrencyPolicy?: "forbid" | "allow" | "replace";
                        /** @description scheduled tasks: 5-field cron expression; default: the environment’s current schedule */
                        cron?: string;
                        environment: string;
                        /** @description default: the image of a bring-your-own-image component */
                        image?: string;
                        /** @description default 1 */
                        replicas?: number;
                        /** @description limits per replica or task run; default: what the environment runs now (none: unlimited) */
                        resources?: {
                            /** @description CPU limit per replica in millicores (1000 = one core) */
                            cpuMillicores?: number;
                            /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                            memoryMiB?: number;
                        };
                        /** @description scheduled tasks: how late a run missed during downtime may still start (default 300) */
                        startingDeadlineSeconds?: number;
                        /** @description tasks: default 300 */
                        timeoutSeconds?: number;
                        /** @description scheduled tasks: IANA time zone (default UTC) */
                        timezone?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                            commit: string | null;
                            component: string;
                            /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                            conditions: {
                                lastTransitionTime: string;
                                message: string;
                                observedGeneration: number;
                                reason: string;
                                /** @enum {string} */
                                status: "True" | "False" | "Unknown";
                                /** @enum {string} */
                                type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                            }[];
                            configRevision: number | null;
                            createdAt: string;
                            createdBy: string | null;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            environment: string;
                            id: string;
                            image: string;
                            /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                            name: string | null;
                            /**
                             * @description where its rollout is; `status` is the coarser word
                             * @enum {string}
                             */
                            phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                            project: string;
                            reason: string | null;
                            release: string | null;
                            replicas: number;
                            /** @description limits per replica or task run; absent: unlimited */
                            resources?: {
                                /** @description CPU limit per replica in millicores (1000 = one core) */
                                cpuMillicores?: number;
                                /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                memoryMiB?: number;
                            };
                            /** @enum {string} */
                            status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                            /** @description task components: how this deployment runs its executions */
                            task?: {
                                /** @enum {string} */
                                concurrencyPolicy: "forbid" | "allow" | "replace";
                                schedule?: {
                                    cron: string;
                                    timezone: string;
                                };
                                startingDeadlineSeconds: number;
                                timeoutSeconds: number;
                            };
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/endpoints": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        endpoints: {
                            /** @description path on the service the gateway forwards to; default / */
                            basePath?: string;
                            /** @description default: the type in lower case, e.g. rest */
                            name?: string;
                            port: number;
                            /**
                             * @description default REST
                             * @enum {string}
                             */
                            type?: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                            /** @description default [Public] */
                            visibility?: ("Project" | "Organization" | "Public")[];
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            autoBuild: boolean;
                            autoDeploy: boolean;
                            buildConfigs: {
                                [key: string]: string;
                            };
                            buildPreset: ("dockerfile" | "nodejs" | "python" | "go" | "java" | "php" | "ruby" | "dotnet" | "static" | "react" | "angular" | "vue") | null;
                            /** @description pushed tags start builds too */
                            buildTags: boolean;
                            createdAt: string;
                            description: string;
                            displayName: string;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            id: string;
                            name: string;
                            project: string;
                            /** @description bumped by every change; send it back on an update to be refused (409) if someone changed it since */
                            resourceVersion: number;
                            source: {
                                branch: string;
                                /** @enum {string} */
                                kind: "git";
                                path: string;
                                repoUrl: string;
                            } | {
                                image: string;
                                /** @enum {string} */
                                kind: "image";
                            };
                            /** @description a token for the private repository is stored (encrypted; never returned) */
                            sourceToken: boolean;
                            /** @enum {string} */
                            type: "service" | "web-app" | "scheduled-task" | "manual-task" | "webhook";
                            updatedAt: string;
                            /** @description paths besides the component directory whose changes start a build */
                            watchPaths: string[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/endpoints/{endpoint}/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The endpoint’s API keys in one environment, revoked ones included (never the keys). */
        get: {
            parameters: {
                query: {
                    environment: string;
                };
                header?: never;
                path: {
                    component: string;
                    endpoint: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                consumer: string;
                                createdAt: string;
                                createdBy: string;
                                environment: string;
                                id: string;
                                revokedAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Creates an API key for a consumer. The key is in this answer only: Rondo keeps its SHA-256 hash. Clients send it in the header the policy names (default `api-key`). */
        post: {
            parameters: {
                query: {
                    environment: string;
                };
                header?: never;
                path: {
                    component: string;
                    endpoint: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        consumer: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            consumer: string;
                            createdAt: string;
                            createdBy: string;
                            environment: string;
                            id: string;
                            key: string;
                            revokedAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/endpoints/{endpoint}/api-keys/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** @description Revokes an API key: the gateway refuses it from its next sync, without a reload. */
        delete: {
            parameters: {
                query: {
                    environment: string;
                };
                header?: never;
                path: {
                    component: string;
                    endpoint: string;
                    id: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            consumer: string;
                            createdAt: string;
                            createdBy: string;
                            environment: string;
                            id: string;
                            revokedAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/endpoints/{endpoint}/policies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The endpoint’s API management policy in one environment (`{}` when it has none). */
        get: {
            parameters: {
                query: {
                    environment: string;
                };
                header?: never;
                path: {
                    component: string;
                    endpoint: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoint: string;
                            environment: string;
                            jwks: {
                                error: string | null;
                                fetchedAt: string | null;
                                keys: number;
                            } | null;
                            policy: {
                                [key: string]: unknown;
                            };
                            updatedAt: string | null;
                            updatedBy: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        /** @description Replaces the endpoint’s policy in one environment; `{}` removes it. Fields: rateLimit and consumerRateLimit {requests, per second|minute, burst (per-minute only)}, apiKey {header (default api-key)}, jwt {issuer, audience, algorithms (RS/ES/PS 256–512), publicKeyPem or jwksUrl, forwardClaims [{claim, header}]}, cors {origins, methods, headers, credentials, maxAgeSeconds}. The gateway answers 429 RATE_LIMITED (with Retry-After), 401 AUTH_FAILURE, and preflights itself (CORS_RESPONSE). */
        put: {
            parameters: {
                query: {
                    environment: string;
                };
                header?: never;
                path: {
                    component: string;
                    endpoint: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        policy: {
                            [key: string]: unknown;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoint: string;
                            environment: string;
                            jwks: {
                                error: string | null;
                                fetchedAt: string | null;
                                keys: number;
                            } | null;
                            policy: {
                                [key: string]: unknown;
                            };
                            updatedAt: string | null;
                            updatedBy: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The component’s deployment events, newest first: rollout failures, liveness restarts, crashes (exit code and last log lines), crash loops and OOM kills of its replicas. */
        get: {
            parameters: {
                query?: {
                    environment?: string;
                    limit?: number;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                deployment: string;
                                environment: string;
                                kind: string;
                                message: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/executions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A task’s executions, newest first, with the number of executions per status in the last 30 days. */
        get: {
            parameters: {
                query?: {
                    environment?: string;
                    limit?: number;
                    /** @description an ISO time or a duration back from now: 30m, 6h, 7d */
                    since?: string;
                    /** @description running | succeeded | failed | timed-out | cancelled | skipped | missed */
                    status?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                args: string[];
                                component: string;
                                /** @description scheduled runs: the due time */
                                dueAt: string | null;
                                durationMs: number | null;
                                environment: string;
                                exitCode: number | null;
                                finishedAt: string | null;
                                id: string;
                                logsTruncated: boolean;
                                project: string;
                                reason: string | null;
                                revision: {
                                    build: string | null;
                                    commit: string | null;
                                    /** @description the deployment name whose image and configuration ran */
                                    deployment: string | null;
                                    deploymentId: string;
                                };
                                startedAt: string | null;
                                /** @enum {string} */
                                status: "running" | "succeeded" | "failed" | "timed-out" | "cancelled" | "skipped" | "missed";
                                /** @enum {string} */
                                trigger: "schedule" | "manual" | "api";
                                triggeredAt: string;
                                triggeredBy: string;
                            }[];
                            last30Days: {
                                [key: string]: number;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Runs a task now in an environment where it is deployed; `args` are appended to the image’s entrypoint as an argv array (no shell). Answers at once with the running execution. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        args?: string[];
                        environment: string;
                        /**
                         * @description manual: a person asked (CLI, console); api: a program did (default)
                         * @enum {string}
                         */
                        trigger?: "manual" | "api";
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            args: string[];
                            component: string;
                            /** @description scheduled runs: the due time */
                            dueAt: string | null;
                            durationMs: number | null;
                            environment: string;
                            exitCode: number | null;
                            finishedAt: string | null;
                            id: string;
                            logsTruncated: boolean;
                            project: string;
                            reason: string | null;
                            revision: {
                                build: string | null;
                                commit: string | null;
                                /** @description the deployment name whose image and configuration ran */
                                deployment: string | null;
                                deploymentId: string;
                            };
                            startedAt: string | null;
                            /** @enum {string} */
                            status: "running" | "succeeded" | "failed" | "timed-out" | "cancelled" | "skipped" | "missed";
                            /** @enum {string} */
                            trigger: "schedule" | "manual" | "api";
                            triggeredAt: string;
                            triggeredBy: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/insights": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description DORA figures in one environment (default: the last of the project’s pipeline) since a time (default 30d): deployment frequency, lead time for change (commit → active), change failure rate (failed or rolled back), time to restore. */
        get: {
            parameters: {
                query?: {
                    environment?: string;
                    /** @description a duration back from now (7d, 30d) or an ISO time */
                    since?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            changeFailureRate: {
                                changes: number;
                                failed: number;
                                rate: number | null;
                                rolledBack: number;
                            };
                            component: string;
                            deploymentFrequency: {
                                deployments: number;
                                perDay: number;
                                perWeek: number;
                            };
                            environment: string;
                            leadTimeForChange: {
                                measured: number;
                                medianSeconds: number | null;
                                p95Seconds: number | null;
                            };
                            since: string;
                            timeToRestore: {
                                failures: number;
                                medianSeconds: number | null;
                                restored: number;
                            };
                            until: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description What the component’s replicas printed in one environment, kept after their containers are gone. A page holds the newest lines of the range (direction=backward, the default) or the oldest (forward), oldest first; nextCursor leads on. With follow=1 the answer is a stream of JSON lines (application/x-ndjson): the newest lines, then new ones as they are stored. Task executions keep their own logs (GET /orgs/{org}/executions/{id}/logs). type=gateway answers the gateway’s access log of the component instead (method, path, status, outcome, duration, bytes, request id), with the same paging, times, grep and follow. */
        get: {
            parameters: {
                query: {
                    cursor?: string;
                    /** @description a deployment name, or a release name */
                    deployment?: string;
                    direction?: "forward" | "backward";
                    environment: string;
                    follow?: "0" | "1" | "true" | "false";
                    /** @description text the line contains (any case) */
                    grep?: string;
                    /** @description error | warn | info | debug, several comma-separated */
                    level?: string;
                    limit?: number;
                    replica?: string;
                    /** @description an ISO time or a duration back from now: 30m, 6h, 7d */
                    since?: string;
                    /** @description application (default) or gateway */
                    type?: "application" | "gateway";
                    /** @description an ISO time or a duration back from now */
                    until?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: ({
                                deployment: string;
                                level: ("error" | "warn" | "info" | "debug") | null;
                                message: string;
                                release: string;
                                replica: string;
                                /** @enum {string} */
                                stream: "stdout" | "stderr";
                                timestamp: string;
                            } | {
                                bytes: number;
                                deployment: string | null;
                                durationMs: number;
                                method: string;
                                /** @description the gateway outcome code: BACKEND_RESPONSE, NO_HEALTHY_BACKEND, … */
                                outcome: string;
                                path: string;
                                release: string | null;
                                requestId: string;
                                status: number;
                                timestamp: string;
                            })[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The component’s series in one environment from `from` to `to` every `step`: request rate, error rate (5xx and gateway failures, % of requests), latency p50/p95/p99 (ms), CPU (millicores), memory (MiB), restarts and OOM kills per step; for tasks, executions per status and duration percentiles. Times are ISO, unix seconds or a duration back from now (6h); `from` defaults to an hour before `to` (now), the step to about 240 points. Ranges past the retention and more than 11,000 points per series are refused. */
        get: {
            parameters: {
                query: {
                    environment: string;
                    /** @description ISO time, unix seconds, or a duration back from now: 6h */
                    from?: string;
                    /** @description seconds (60) or a duration: 15s, 5m, 1h */
                    step?: string;
                    /** @description ISO time, unix seconds, or a duration back from now */
                    to?: string;
                };
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            component: string;
                            environment: string;
                            from: number;
                            /** @enum {string} */
                            kind: "service" | "task";
                            series: {
                                labels?: {
                                    [key: string]: string;
                                };
                                name: string;
                                /** @description [unix seconds, value], oldest first */
                                points: [
                                    number,
                                    number
                                ][];
                                unit: string;
                            }[];
                            step: number;
                            to: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/promotions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Promotes the release active in `from` to `to` (default: the next environment of the pipeline) with the target’s configuration. Into an environment with an approval policy, records an approval request instead. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        comment?: string;
                        /** @description admins: promote out of pipeline order */
                        force?: boolean;
                        from?: string;
                        to?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            approvalRequest?: {
                                approvals: number;
                                comment: string;
                                component: string;
                                createdAt: string;
                                decisions: {
                                    at: string;
                                    comment: string;
                                    /** @enum {string} */
                                    decision: "approved" | "rejected";
                                    user: string;
                                }[];
                                /** @description the promotion started when the request was approved */
                                deployment: string | null;
                                /** @description the environment the release is to be promoted into */
                                environment: string;
                                /** @description the environment the release was active in when requested */
                                from: string;
                                id: string;
                                project: string;
                                release: string;
                                requestedBy: string;
                                required: number;
                                /** @enum {string} */
                                status: "pending" | "approved" | "rejected" | "cancelled";
                                updatedAt: string;
                            };
                            deployment?: {
                                action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                                commit: string | null;
                                component: string;
                                /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                                conditions: {
                                    lastTransitionTime: string;
                                    message: string;
                                    observedGeneration: number;
                                    reason: string;
                                    /** @enum {string} */
                                    status: "True" | "False" | "Unknown";
                                    /** @enum {string} */
                                    type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                                }[];
                                configRevision: number | null;
                                createdAt: string;
                                createdBy: string | null;
                                endpoints: {
                                    basePath: string;
                                    /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                    declaredName?: string;
                                    name: string;
                                    port: number;
                                    /** @enum {string} */
                                    type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                    visibility: ("Project" | "Organization" | "Public")[];
                                }[];
                                environment: string;
                                id: string;
                                image: string;
                                /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                                name: string | null;
                                /**
                                 * @description where its rollout is; `status` is the coarser word
                                 * @enum {string}
                                 */
                                phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                                project: string;
                                reason: string | null;
                                release: string | null;
                                replicas: number;
                                /** @description limits per replica or task run; absent: unlimited */
                                resources?: {
                                    /** @description CPU limit per replica in millicores (1000 = one core) */
                                    cpuMillicores?: number;
                                    /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                    memoryMiB?: number;
                                };
                                /** @enum {string} */
                                status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                                /** @description task components: how this deployment runs its executions */
                                task?: {
                                    /** @enum {string} */
                                    concurrencyPolicy: "forbid" | "allow" | "replace";
                                    schedule?: {
                                        cron: string;
                                        timezone: string;
                                    };
                                    startingDeadlineSeconds: number;
                                    timeoutSeconds: number;
                                };
                                updatedAt: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/redeployments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description The active release and configuration again, on fresh replicas (a rolling restart). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        environment: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                            commit: string | null;
                            component: string;
                            /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                            conditions: {
                                lastTransitionTime: string;
                                message: string;
                                observedGeneration: number;
                                reason: string;
                                /** @enum {string} */
                                status: "True" | "False" | "Unknown";
                                /** @enum {string} */
                                type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                            }[];
                            configRevision: number | null;
                            createdAt: string;
                            createdBy: string | null;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            environment: string;
                            id: string;
                            image: string;
                            /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                            name: string | null;
                            /**
                             * @description where its rollout is; `status` is the coarser word
                             * @enum {string}
                             */
                            phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                            project: string;
                            reason: string | null;
                            release: string | null;
                            replicas: number;
                            /** @description limits per replica or task run; absent: unlimited */
                            resources?: {
                                /** @description CPU limit per replica in millicores (1000 = one core) */
                                cpuMillicores?: number;
                                /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                memoryMiB?: number;
                            };
                            /** @enum {string} */
                            status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                            /** @description task components: how this deployment runs its executions */
                            task?: {
                                /** @enum {string} */
                                concurrencyPolicy: "forbid" | "allow" | "replace";
                                schedule?: {
                                    cron: string;
                                    timezone: string;
                                };
                                startingDeadlineSeconds: number;
                                timeoutSeconds: number;
                            };
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/rollbacks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Makes an earlier deployment (exact image digest and configuration revision) active again; default: the one active before. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        environment: string;
                        /** @description a deployment id or name */
                        to?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                            commit: string | null;
                            component: string;
                            /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                            conditions: {
                                lastTransitionTime: string;
                                message: string;
                                observedGeneration: number;
                                reason: string;
                                /** @enum {string} */
                                status: "True" | "False" | "Unknown";
                                /** @enum {string} */
                                type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                            }[];
                            configRevision: number | null;
                            createdAt: string;
                            createdBy: string | null;
                            endpoints: {
                                basePath: string;
                                /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                declaredName?: string;
                                name: string;
                                port: number;
                                /** @enum {string} */
                                type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                visibility: ("Project" | "Organization" | "Public")[];
                            }[];
                            environment: string;
                            id: string;
                            image: string;
                            /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                            name: string | null;
                            /**
                             * @description where its rollout is; `status` is the coarser word
                             * @enum {string}
                             */
                            phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                            project: string;
                            reason: string | null;
                            release: string | null;
                            replicas: number;
                            /** @description limits per replica or task run; absent: unlimited */
                            resources?: {
                                /** @description CPU limit per replica in millicores (1000 = one core) */
                                cpuMillicores?: number;
                                /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                memoryMiB?: number;
                            };
                            /** @enum {string} */
                            status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                            /** @description task components: how this deployment runs its executions */
                            task?: {
                                /** @enum {string} */
                                concurrencyPolicy: "forbid" | "allow" | "replace";
                                schedule?: {
                                    cron: string;
                                    timezone: string;
                                };
                                startingDeadlineSeconds: number;
                                timeoutSeconds: number;
                            };
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Where a scheduled task is deployed: its cron and time zone, whether it is suspended, and its next due time. Empty for other component types. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                cron: string;
                                environment: string;
                                nextRunAt: string | null;
                                suspended: boolean;
                                timezone: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/schedules/{environment}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** @description Suspends or resumes a scheduled task in one environment. A resumed schedule goes on from now; runs due while suspended are not made up. */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    environment: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        suspended: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            cron: string;
                            environment: string;
                            nextRunAt: string | null;
                            suspended: boolean;
                            timezone: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/source-token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** @description Stores the credential of the component’s private repository, encrypted: an access token, which builds send to that host only (HTTP basic auth, user x-access-token), or an SSH private key for ssh URLs (a deploy key). Never returned. */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        token: string;
                    };
                };
            };
            responses: {
                /** @description stored */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description removed */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Per environment (pipeline order): the active and latest deployment, replicas and endpoint URLs. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                active: {
                                    action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                                    commit: string | null;
                                    component: string;
                                    /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                                    conditions: {
                                        lastTransitionTime: string;
                                        message: string;
                                        observedGeneration: number;
                                        reason: string;
                                        /** @enum {string} */
                                        status: "True" | "False" | "Unknown";
                                        /** @enum {string} */
                                        type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                                    }[];
                                    configRevision: number | null;
                                    createdAt: string;
                                    createdBy: string | null;
                                    endpoints: {
                                        basePath: string;
                                        /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                        declaredName?: string;
                                        name: string;
                                        port: number;
                                        /** @enum {string} */
                                        type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                        visibility: ("Project" | "Organization" | "Public")[];
                                    }[];
                                    environment: string;
                                    id: string;
                                    image: string;
                                    /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                                    name: string | null;
                                    /**
                                     * @description where its rollout is; `status` is the coarser word
                                     * @enum {string}
                                     */
                                    phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                                    project: string;
                                    reason: string | null;
                                    release: string | null;
                                    replicas: number;
                                    /** @description limits per replica or task run; absent: unlimited */
                                    resources?: {
                                        /** @description CPU limit per replica in millicores (1000 = one core) */
                                        cpuMillicores?: number;
                                        /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                        memoryMiB?: number;
                                    };
                                    /** @enum {string} */
                                    status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                                    /** @description task components: how this deployment runs its executions */
                                    task?: {
                                        /** @enum {string} */
                                        concurrencyPolicy: "forbid" | "allow" | "replace";
                                        schedule?: {
                                            cron: string;
                                            timezone: string;
                                        };
                                        startingDeadlineSeconds: number;
                                        timeoutSeconds: number;
                                    };
                                    updatedAt: string;
                                } | null;
                                environment: string;
                                /** @description the newest 10 events of the active deployment and of a later one (a failed rollout), newest first */
                                events: {
                                    createdAt: string;
                                    /** @description the deployment the event is about: the active one or the latest */
                                    deployment: string;
                                    kind: string;
                                    message: string;
                                }[];
                                latest: {
                                    action: ("deploy" | "promote" | "rollback" | "redeploy") | null;
                                    commit: string | null;
                                    component: string;
                                    /** @description Ready, Progressing, TrafficSwitched, ImagePinned, Degraded (Kubernetes’ shape) */
                                    conditions: {
                                        lastTransitionTime: string;
                                        message: string;
                                        observedGeneration: number;
                                        reason: string;
                                        /** @enum {string} */
                                        status: "True" | "False" | "Unknown";
                                        /** @enum {string} */
                                        type: "Ready" | "Progressing" | "TrafficSwitched" | "ImagePinned" | "Degraded";
                                    }[];
                                    configRevision: number | null;
                                    createdAt: string;
                                    createdBy: string | null;
                                    endpoints: {
                                        basePath: string;
                                        /** @description the name as the descriptor wrote it, when that is not a DNS label */
                                        declaredName?: string;
                                        name: string;
                                        port: number;
                                        /** @enum {string} */
                                        type: "REST" | "GraphQL" | "GRPC" | "WS" | "TCP" | "UDP";
                                        visibility: ("Project" | "Organization" | "Public")[];
                                    }[];
                                    environment: string;
                                    id: string;
                                    image: string;
                                    /** @description `YYYYMMDD-N.<configRevision>.<deployCount>`; `YYYYMMDD-N` is the release */
                                    name: string | null;
                                    /**
                                     * @description where its rollout is; `status` is the coarser word
                                     * @enum {string}
                                     */
                                    phase: "Pending" | "Progressing" | "TrafficSwitching" | "Active" | "Failed" | "Superseded";
                                    project: string;
                                    reason: string | null;
                                    release: string | null;
                                    replicas: number;
                                    /** @description limits per replica or task run; absent: unlimited */
                                    resources?: {
                                        /** @description CPU limit per replica in millicores (1000 = one core) */
                                        cpuMillicores?: number;
                                        /** @description memory limit per replica in MiB (16 and up; a replica over it is OOM-killed) */
                                        memoryMiB?: number;
                                    };
                                    /** @enum {string} */
                                    status: "pending" | "rolling-out" | "active" | "failed" | "superseded";
                                    /** @description task components: how this deployment runs its executions */
                                    task?: {
                                        /** @enum {string} */
                                        concurrencyPolicy: "forbid" | "allow" | "replace";
                                        schedule?: {
                                            cron: string;
                                            timezone: string;
                                        };
                                        startingDeadlineSeconds: number;
                                        timeoutSeconds: number;
                                    };
                                    updatedAt: string;
                                } | null;
                                /** @description configuration keys that differ from what the active deployment runs; deploy to apply them */
                                pendingConfig: {
                                    added: string[];
                                    changed: string[];
                                    removed: string[];
                                };
                                replicas: {
                                    desired: number;
                                    restarts: number;
                                    running: number;
                                };
                                urls: {
                                    endpoint: string;
                                    url: string;
                                    /** @enum {string} */
                                    visibility: "Project" | "Organization" | "Public";
                                }[];
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/status/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A server-sent event stream (text/event-stream; the session cookie authenticates an EventSource). Events: status ({items}: what GET …/status answers), at the start and whenever it changes (a rollout's progress, replicas, events); builds ({}) and executions ({}) when the component's builds or task runs were created or changed state, so lists of them can be read again. The stream closes after 10 minutes and the browser reconnects. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/webhook": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The webhook of the component’s repository: its URL per provider and how to set it up (never the secret). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            configured: boolean;
                            polling: {
                                error: string | null;
                                failures: number;
                                intervalSeconds: number;
                                polledAt: string | null;
                            } | null;
                            repository: string;
                            rotatedAt: string | null;
                            setup: {
                                [key: string]: string;
                            };
                            urls: {
                                [key: string]: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/webhook/polling": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** @description Polls the component’s repository (`git ls-remote`) every intervalSeconds, for repositories that cannot send webhooks; null turns polling off. */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        intervalSeconds: number | null;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            configured: boolean;
                            polling: {
                                error: string | null;
                                failures: number;
                                intervalSeconds: number;
                                polledAt: string | null;
                            } | null;
                            repository: string;
                            rotatedAt: string | null;
                            setup: {
                                [key: string]: string;
                            };
                            urls: {
                                [key: string]: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/projects/{project}/components/{component}/webhook/secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Creates the repository’s webhook or gives it a new secret; the secret is in this answer only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    component: string;
                    org: string;
                    project: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            configured: boolean;
                            polling: {
                                error: string | null;
                                failures: number;
                                intervalSeconds: number;
                                polledAt: string | null;
                            } | null;
                            repository: string;
                            rotatedAt: string | null;
                            secret: string;
                            setup: {
                                [key: string]: string;
                            };
                            urls: {
                                [key: string]: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/orgs/{org}/webhook-deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Recent webhook deliveries, newest first: outcome, builds started, or why not. */
        get: {
            parameters: {
                query?: {
                    limit?: number;
                };
                header?: never;
                path: {
                    org: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                deliveryId: string | null;
                                detail: {
                                    [key: string]: unknown;
                                };
                                id: string;
                                outcome: string;
                                provider: string;
                                receivedAt: string;
                                status: number;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/session": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The current console session and its CSRF token (cookie sessions only). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description send as the x-rondo-csrf header with every change made with the cookie */
                            csrfToken: string;
                            /** @description when the session ends (ISO 8601) */
                            expiresAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** @description Exchanges the bearer token of the request for a console session cookie. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description send as the x-rondo-csrf header with every change made with the cookie */
                            csrfToken: string;
                            /** @description when the session ends (ISO 8601) */
                            expiresAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        /** @description Signs out: the session is revoked server-side and the cookie cleared. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description signed out */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                expiresAt: string | null;
                                id: string;
                                lastUsedAt: string | null;
                                name: string;
                                revokedAt: string | null;
                                scopes: ("read" | "write" | "admin")[];
                                user: string;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description default: never expires */
                        expiresInDays?: number;
                        name: string;
                        /** @description default [read, write] */
                        scopes?: ("read" | "write" | "admin")[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            info: {
                                createdAt: string;
                                expiresAt: string | null;
                                id: string;
                                lastUsedAt: string | null;
                                name: string;
                                revokedAt: string | null;
                                scopes: ("read" | "write" | "admin")[];
                                user: string;
                            };
                            /** @description shown once; store it now */
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                createdAt: string;
                                defaultOrg: string | null;
                                displayName: string;
                                id: string;
                                name: string;
                                platformAdmin: boolean;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        displayName?: string;
                        name: string;
                        platformAdmin?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            createdAt: string;
                            defaultOrg: string | null;
                            displayName: string;
                            id: string;
                            name: string;
                            platformAdmin: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/users/{user}/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    user: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description default: never expires */
                        expiresInDays?: number;
                        name: string;
                        /** @description default [read, write] */
                        scopes?: ("read" | "write" | "admin")[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            info: {
                                createdAt: string;
                                expiresAt: string | null;
                                id: string;
                                lastUsedAt: string | null;
                                name: string;
                                revokedAt: string | null;
                                scopes: ("read" | "write" | "admin")[];
                                user: string;
                            };
                            /** @description shown once; store it now */
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            detail: string;
                            errors?: {
                                field: string;
                                message: string;
                            }[];
                            fix: string;
                            instance: string;
                            status: number;
                            title: string;
                            type: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: never;
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
